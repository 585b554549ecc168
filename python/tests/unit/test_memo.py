"""ExpiringMemo: what seqr_s3 remembers per worker must expire on time and stay bounded."""

from __future__ import annotations

import threading

import pytest
from seqr_s3.memo import ExpiringMemo


class SteppedClock:
    """A clock the test moves by hand, so expiry is checked at exact instants instead of by sleeping."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_an_answer_is_returned_until_its_lifetime_ends_then_forgotten() -> None:
    clock = SteppedClock()
    memo: ExpiringMemo[str, str] = ExpiringMemo(4, clock=clock)
    memo.put("a", "url-a", lifetime=10)
    clock.now += 9.999
    assert memo.get("a") == "url-a"
    clock.now += 0.001
    assert memo.get("a") is None
    assert len(memo) == 0, "an expired entry is dropped when it is found expired"


def test_each_answer_keeps_its_own_lifetime() -> None:
    clock = SteppedClock()
    memo: ExpiringMemo[str, int] = ExpiringMemo(4, clock=clock)
    memo.put("short", 1, lifetime=1)
    memo.put("long", 2, lifetime=100)
    clock.now += 50
    assert (memo.get("short"), memo.get("long")) == (None, 2)


def test_putting_again_renews_the_lifetime_and_replaces_the_value() -> None:
    clock = SteppedClock()
    memo: ExpiringMemo[str, str] = ExpiringMemo(4, clock=clock)
    memo.put("a", "old", lifetime=10)
    clock.now += 8
    memo.put("a", "new", lifetime=10)
    clock.now += 8
    assert memo.get("a") == "new"


def test_the_least_recently_used_answer_goes_first_past_the_bound() -> None:
    memo: ExpiringMemo[str, str] = ExpiringMemo(3, clock=SteppedClock())
    for key in ("a", "b", "c"):
        memo.put(key, key.upper(), lifetime=60)
    assert memo.get("a") == "A"  # now b is the least recently used
    memo.put("d", "D", lifetime=60)
    assert len(memo) == 3
    assert [memo.get(key) for key in ("a", "b", "c", "d")] == ["A", None, "C", "D"]


def test_clear_forgets_everything() -> None:
    memo: ExpiringMemo[int, int] = ExpiringMemo(8, clock=SteppedClock())
    for key in range(5):
        memo.put(key, key, lifetime=60)
    memo.clear()
    assert len(memo) == 0
    assert memo.get(3) is None


def test_a_memo_without_room_is_refused() -> None:
    with pytest.raises(ValueError, match="at least one entry"):
        ExpiringMemo(0)


def test_threads_putting_at_once_never_push_it_past_its_bound() -> None:
    memo: ExpiringMemo[tuple[int, int], int] = ExpiringMemo(50)
    start = threading.Barrier(8)

    def put_many(thread_number: int) -> None:
        start.wait()
        for index in range(2000):
            memo.put((thread_number, index), index, lifetime=60)
            memo.get((thread_number, index - 1))

    threads = [threading.Thread(target=put_many, args=(number,)) for number in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(memo) == 50
