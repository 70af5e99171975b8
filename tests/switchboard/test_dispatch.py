"""The dispatcher that publishes accepted events off the request thread: what waits
goes out together, in order, once each; a failed publish does not stop the next; a
forked child publishes its own events, not its parent's."""
from __future__ import annotations

import logging
import os
import threading
from collections.abc import Sequence

import pytest

from switchboard.core.dispatch import Dispatcher


class Publisher:
    """A ``send`` that can be held, to let ids pile up while it is busy."""

    def __init__(self) -> None:
        self.sent: list[list[int]] = []
        self.release = threading.Event()
        self.release.set()
        self.entered = threading.Event()
        self.fail_next = False

    def __call__(self, ids: Sequence[int]) -> None:
        self.entered.set()
        self.release.wait(10)
        if self.fail_next:
            self.fail_next = False
            raise ConnectionError("broker unreachable")
        self.sent.append(list(ids))


def test_ids_that_wait_while_a_publish_is_busy_leave_together_in_order_once_each() -> None:
    publisher = Publisher()
    dispatcher = Dispatcher(publisher, max_batch=4, linger=0)
    publisher.release.clear()
    dispatcher.submit(1)
    assert publisher.entered.wait(5)  # 1 is being published; the next ones wait
    for event_id in range(2, 8):
        dispatcher.submit(event_id)
    publisher.release.set()
    assert dispatcher.flush(5)
    assert publisher.sent == [[1], [2, 3, 4, 5], [6, 7]]


def test_ids_arriving_within_the_linger_leave_together_and_a_full_batch_does_not_wait() -> None:
    publisher = Publisher()
    dispatcher = Dispatcher(publisher, max_batch=3, linger=30.0)
    for event_id in (1, 2, 3):  # a full batch leaves at once, long before the 30 s linger
        dispatcher.submit(event_id)
    assert dispatcher.flush(5)
    assert publisher.sent == [[1, 2, 3]]

    lingering = Dispatcher(publisher, linger=0.3)
    lingering.submit(4)
    lingering.submit(5)
    assert lingering.flush(5)
    assert publisher.sent[1:] == [[4, 5]]


def test_at_rest_each_id_leaves_at_once_on_its_own() -> None:
    publisher = Publisher()
    dispatcher = Dispatcher(publisher)
    for event_id in (10, 11, 12):
        dispatcher.submit(event_id)
        assert dispatcher.flush(5)
    assert publisher.sent == [[10], [11], [12]]


def test_a_failed_publish_is_logged_for_the_sweep_and_the_next_ids_still_leave(
    caplog: pytest.LogCaptureFixture,
) -> None:
    publisher = Publisher()
    dispatcher = Dispatcher(publisher)
    publisher.fail_next = True
    with caplog.at_level(logging.WARNING, logger="switchboard.core.dispatch"):
        dispatcher.submit(1)
        assert dispatcher.flush(5)
        dispatcher.submit(2)
        assert dispatcher.flush(5)
    assert publisher.sent == [[2]]
    assert "1 inbox event(s) wait for the sweep: ConnectionError" in caplog.text


def test_flush_reports_a_publish_that_does_not_finish_in_time() -> None:
    publisher = Publisher()
    dispatcher = Dispatcher(publisher)
    publisher.release.clear()
    dispatcher.submit(1)
    assert dispatcher.flush(0.2) is False
    publisher.release.set()
    assert dispatcher.flush(5)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork is POSIX-only")
def test_a_forked_child_publishes_its_own_ids_on_its_own_thread_and_not_its_parents() -> None:
    read_end, write_end = os.pipe()

    def send(ids: Sequence[int]) -> None:
        os.write(write_end, (",".join(map(str, ids)) + ";").encode())

    publisher = Publisher()
    dispatcher = Dispatcher(lambda ids: (publisher(ids), send(ids)))
    publisher.release.clear()
    dispatcher.submit(1)  # the parent's thread is busy with 1, and 2 waits behind it
    assert publisher.entered.wait(5)
    dispatcher.submit(2)
    pid = os.fork()
    if pid == 0:  # the child: no thread of the parent's, a lock nobody holds
        try:
            publisher.release.set()
            dispatcher.submit(99)
            os._exit(0 if dispatcher.flush(5) else 1)
        except BaseException:
            os._exit(2)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    publisher.release.set()
    assert dispatcher.flush(5)
    os.close(write_end)
    with os.fdopen(read_end) as pipe:
        published = pipe.read()
    assert sorted(published.rstrip(";").split(";")) == ["1", "2", "99"]  # 99 by the child; 1 and 2 by the parent
