"""Writes that concurrent callers share: a lone caller writes at once, callers that
arrive during a write go together in the next one, in order, each getting its own
result or error, and nobody waits forever when a write fails or is interrupted."""
from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import pytest

from switchboard.core.store.group_commit import GroupCommit, WriterStopped


class Store:
    """A ``write`` that can be held inside its first call, to let callers queue."""

    def __init__(self, delay: float = 0.0) -> None:
        self.delay = delay
        self.writes: list[list[int]] = []
        self.hold = threading.Event()
        self.hold.set()
        self.inside = threading.Event()
        self.lock = threading.Lock()

    def __call__(self, items: Sequence[int]) -> list[int | Exception]:
        with self.lock:
            self.writes.append(list(items))
        self.inside.set()
        self.hold.wait(10)
        time.sleep(self.delay)  # the round trip, during which others arrive
        return [ValueError(f"item {i} refused") if i < 0 else i * 10 for i in items]


def start(commit: GroupCommit[int, int], item: int, results: dict[int, object]) -> threading.Thread:
    def call() -> None:
        try:
            results[item] = commit.submit(item)
        except BaseException as exc:  # noqa: BLE001 - what the caller would raise
            results[item] = exc

    thread = threading.Thread(target=call)
    thread.start()
    return thread


def queued_until(commit: GroupCommit[int, int], count: int) -> None:
    deadline = time.monotonic() + 10
    while commit.waiting < count:
        assert time.monotonic() < deadline, f"{commit.waiting} queued, expected {count}"
        time.sleep(0.001)


def test_a_lone_caller_writes_at_once_and_gets_its_result() -> None:
    store = Store()
    commit = GroupCommit(store)
    assert commit.submit(4) == 40
    assert commit.submit(5) == 50
    assert store.writes == [[4], [5]]


def test_callers_arriving_during_a_write_go_together_in_order_each_with_its_own_outcome() -> None:
    store, results = Store(), {}
    commit = GroupCommit(store)
    store.hold.clear()
    first = start(commit, 1, results)
    assert store.inside.wait(5)
    threads = []
    for n, item in enumerate((2, -3, 4), start=1):
        threads.append(start(commit, item, results))
        queued_until(commit, n)  # arrival order is queue order
    store.hold.set()
    for thread in (first, *threads):
        thread.join(10)
    assert store.writes == [[1], [2, -3, 4]]
    assert results[1] == 10 and results[2] == 20 and results[4] == 40
    assert isinstance(results[-3], ValueError) and "item -3 refused" in str(results[-3])


def test_a_batch_is_at_most_max_batch_and_the_rest_follow() -> None:
    store, results = Store(), {}
    commit = GroupCommit(store, max_batch=4)
    store.hold.clear()
    threads = [start(commit, 0, results)]
    assert store.inside.wait(5)
    for n, item in enumerate(range(1, 10), start=1):
        threads.append(start(commit, item, results))
        queued_until(commit, n)
    store.hold.set()
    for thread in threads:
        thread.join(10)
    assert store.writes == [[0], [1, 2, 3, 4], [5, 6, 7, 8], [9]]
    assert results == {i: i * 10 for i in range(10)}


def test_a_write_that_raises_fails_its_batch_only_and_the_next_callers_are_written() -> None:
    calls: list[list[int]] = []

    def flaky(items: Sequence[int]) -> list[int | Exception]:
        calls.append(list(items))
        if len(calls) == 1:
            raise ConnectionError("database unreachable")
        return list(items)

    commit = GroupCommit(flaky)
    with pytest.raises(ConnectionError, match="unreachable"):
        commit.submit(1)
    assert commit.submit(2) == 2


def test_an_interrupted_writer_releases_the_callers_waiting_with_an_error_not_a_hang() -> None:
    class Interrupt(BaseException):
        pass

    entered, release = threading.Event(), threading.Event()
    writes: list[list[int]] = []

    def interrupted(items: Sequence[int]) -> list[int | Exception]:
        writes.append(list(items))
        if len(writes) == 1:
            entered.set()
            release.wait(10)
            raise Interrupt
        return list(items)

    commit = GroupCommit(interrupted)
    results: dict[int, object] = {}
    leader_error: list[BaseException] = []

    def lead() -> None:
        try:
            commit.submit(1)
        except BaseException as exc:  # noqa: BLE001 - the interruption itself
            leader_error.append(exc)

    leader = threading.Thread(target=lead)
    leader.start()
    assert entered.wait(5)
    follower = start(commit, 2, results)
    queued_until(commit, 1)
    release.set()
    leader.join(10)
    follower.join(10)
    assert not follower.is_alive()
    assert isinstance(leader_error[0], Interrupt)
    assert results[2] == 2  # it was queued, not in the interrupted batch: written by the next writer
    assert writes == [[1], [2]]


def test_an_item_of_an_interrupted_batch_is_reported_unknown() -> None:
    class Interrupt(BaseException):
        pass

    entered, release = threading.Event(), threading.Event()
    first_batch: list[list[int]] = []

    def interrupted(items: Sequence[int]) -> list[int | Exception]:
        first_batch.append(list(items))
        if len(first_batch) == 1:
            entered.set()
            release.wait(10)
            return list(items)
        if len(first_batch) == 2:
            raise Interrupt
        return list(items)

    commit = GroupCommit(interrupted)
    results: dict[int, object] = {}
    lone = start(commit, 1, results)
    assert entered.wait(5)
    second = start(commit, 2, results)
    queued_until(commit, 1)
    third = start(commit, 3, results)
    queued_until(commit, 2)
    release.set()
    for thread in (lone, second, third):
        thread.join(10)
        assert not thread.is_alive()
    assert results[1] == 1
    # 2 led the second write and was interrupted; 3 was in that batch: it must not be
    # told "stored".
    assert type(results[2]).__name__ == "Interrupt"
    assert isinstance(results[3], WriterStopped)


def test_many_threads_each_get_their_own_result_and_every_item_is_written_once() -> None:
    store = Store(delay=0.0002)
    commit = GroupCommit(store, max_batch=8)

    with ThreadPoolExecutor(max_workers=12) as pool:
        got = list(pool.map(lambda i: (i, commit.submit(i)), range(3000)))
    assert all(result == i * 10 for i, result in got)
    written = [item for batch in store.writes for item in batch]
    assert sorted(written) == list(range(3000))
    assert max(len(batch) for batch in store.writes) <= 8
    assert len(store.writes) < 3000  # some calls did share a write


def test_max_batch_must_be_positive() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        GroupCommit(Store(), max_batch=0)
