"""A bounded, thread-safe memory of recent answers that forgets each one after its own lifetime.

seqr_s3 remembers two kinds of answers per worker process (presigned URLs in s3.py, project registrations in
access.py). Both must stay small however many files are read (the least recently used entry goes first) and
must never outlive their window (measured on a monotonic clock, so a wall-clock jump cannot stretch it).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Hashable
from typing import Callable, Generic, Optional, TypeVar

Key = TypeVar("Key", bound=Hashable)
Value = TypeVar("Value")


class ExpiringMemo(Generic[Key, Value]):
    """Answers by key, each forgotten ``lifetime`` seconds after it was put, at most ``max_entries`` kept."""

    def __init__(self, max_entries: int, clock: Callable[[], float] = time.monotonic) -> None:
        if max_entries < 1:
            raise ValueError(f"an ExpiringMemo must hold at least one entry, not {max_entries}")
        self.max_entries = max_entries
        # Public so a test can move time forward without waiting.
        self.clock = clock
        self._entries: OrderedDict[Key, tuple[float, Value]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Key) -> Optional[Value]:
        """The remembered value, or None when there is none or its lifetime is over."""
        now = self.clock()
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            expires_at, value = entry
            if now >= expires_at:
                del self._entries[key]
                return None
            self._entries.move_to_end(key)
            return value

    def put(self, key: Key, value: Value, lifetime: float) -> None:
        """Remember ``value`` for ``lifetime`` seconds from now, dropping the least recently used past the
        bound."""
        expires_at = self.clock() + lifetime
        with self._lock:
            self._entries[key] = (expires_at, value)
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)

    def clear(self) -> None:
        """Forget everything (after credentials, settings or registrations changed)."""
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)
