"""Webhook request metrics count every request, by URL rule, method and status, when the
same labels come again (their children are kept between requests)."""
from __future__ import annotations

from flask import Flask
from prometheus_client.parser import text_string_to_metric_families

from ..signing import VendorClient, fixture

MESSAGES = "/webhooks/twilio/messages"


def test_repeated_webhook_requests_are_each_counted_and_timed(app: Flask, vendor: VendorClient) -> None:
    for sid in ("SM" + "1" * 32, "SM" + "2" * 32, "SM" + "2" * 32):  # the last one a duplicate: still a request
        assert vendor.twilio(MESSAGES, {**fixture("twilio", "inbound_sms.json"), "MessageSid": sid}).status_code == 200
    for _ in range(2):
        assert vendor.twilio(MESSAGES, fixture("twilio", "inbound_sms.json"), signature="forged").status_code == 403
    assert vendor.client.get("/healthz").status_code == 200  # not a vendor's URL: not measured
    families = {f.name: f for f in text_string_to_metric_families(vendor.client.get("/metrics").get_data(as_text=True))}
    requests = {(s.labels["endpoint"], s.labels["method"], s.labels["status"]): s.value
                for s in families["switchboard_webhook_requests"].samples if s.name.endswith("_total")}
    assert requests == {(MESSAGES, "POST", "200"): 3, (MESSAGES, "POST", "403"): 2}
    [timed] = [s for s in families["switchboard_webhook_request_duration_seconds"].samples if s.name.endswith("_count")]
    assert (timed.labels["endpoint"], timed.value) == (MESSAGES, 5)


def test_made_up_methods_share_one_label_so_a_client_cannot_grow_the_series(app: Flask, vendor: VendorClient) -> None:
    for made_up in ("BREW", "X1", "X2", "X3"):
        assert vendor.client.open(MESSAGES, method=made_up).status_code == 405
    assert vendor.client.open(MESSAGES, method="PUT").status_code == 405
    families = {f.name: f for f in text_string_to_metric_families(vendor.client.get("/metrics").get_data(as_text=True))}
    requests = {(s.labels["endpoint"], s.labels["method"], s.labels["status"]): s.value
                for s in families["switchboard_webhook_requests"].samples if s.name.endswith("_total")}
    assert requests == {("unmatched", "other", "405"): 4, ("unmatched", "PUT", "405"): 1}
