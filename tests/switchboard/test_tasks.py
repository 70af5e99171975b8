from switchboard.tasks import RETRY_BACKOFF_MAX, retry_countdown
from switchboard.vendors.outbound import VendorOutcomeUnknown, VendorRateLimited, VendorUnavailable


def test_rate_limits_are_retried_after_the_vendors_retry_after() -> None:
    assert retry_countdown(VendorRateLimited("zendesk", 42), retries=0) == 42
    assert retry_countdown(VendorRateLimited("slack", 0), retries=3) == 1


def test_other_failures_back_off_exponentially_up_to_a_cap() -> None:
    waits = [retry_countdown(VendorUnavailable("down"), retries=n) for n in range(10)]
    assert waits[:3] == [5, 10, 20]
    assert max(waits) == RETRY_BACKOFF_MAX and waits == sorted(waits)


def test_a_call_that_may_have_reached_the_vendor_is_retried_after_its_lease() -> None:
    from switchboard.core.store.outbox import ATTEMPT_LEASE

    wait = retry_countdown(VendorOutcomeUnknown("twilio read timed out"), retries=0)
    assert wait > ATTEMPT_LEASE.total_seconds()
