"""Generic, thread-safe stores the app's caches are built from (no streamlit here: importing this
module imports nothing but the standard library, and the tests use it without a server).

ResultStore  a small least-recently-used map of results, shared by every session
Prefetcher   one background worker that computes a result before it is asked for
KeyedLocks   one lock per key, so that two sessions never compute the same thing twice

app/cache.py keeps one of each per process (`st.cache_resource`) and decides what goes in them.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any


class ResultStore:
    """A small thread-safe least-recently-used map of results (shared by every session: its values
    are never changed by a reader)."""

    def __init__(self, max_entries: int):
        self.max_entries = max_entries
        self._items: OrderedDict[Hashable, Any] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> Any:
        with self._lock:
            if key not in self._items:
                return None
            self._items.move_to_end(key)
            return self._items[key]

    def put(self, key: Hashable, value: Any) -> Any:
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self.max_entries:
                self._items.popitem(last=False)
        return value

    def keys(self) -> list[Hashable]:
        """The keys held, least recently used first."""
        with self._lock:
            return list(self._items)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


class Prefetcher:
    """One background worker that computes results before they are asked for. A page that asks
    for a result still being computed waits for it instead of computing it twice."""

    def __init__(self):
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="nvae-prefetch")
        self._running: dict[Hashable, Future] = {}
        self._lock = threading.Lock()

    def submit(self, key: Hashable, store: ResultStore, compute: Callable[[], Any]) -> None:
        with self._lock:
            if key in self._running or store.get(key) is not None:
                return

            def job():
                try:
                    return store.put(key, compute())
                finally:
                    with self._lock:
                        self._running.pop(key, None)

            self._running[key] = self._pool.submit(job)

    def wait(self, key: Hashable) -> None:
        """Block until the prefetch of `key` (if one is running) has finished."""
        with self._lock:
            future = self._running.get(key)
        if future is not None:
            try:
                future.result()
            except Exception:  # a failed prefetch: the caller computes the result itself
                pass


class KeyedLocks:
    """One lock per key (made on first use), so that two sessions never compute the same map twice."""

    def __init__(self):
        self._guard = threading.Lock()
        self._locks: dict[Hashable, threading.Lock] = {}

    def get(self, key: Hashable) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(key, threading.Lock())
