"""In-memory caches of the gateway: TTL'd upstream answers and immutable small artifacts."""

from __future__ import annotations

import hashlib
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Answer:
    """An upstream answer for a list or @latest: its bytes, or None for "not found" (`reason`)."""

    data: bytes | None
    reason: str
    fetched_at: float


class AnswerCache:
    """Version lists and @latest answers, fresh for `ttl` s; not-found answers for `negative_ttl`.

    Stale entries are kept (bounded by `max_entries`) so the gateway can serve them when every
    upstream fails.
    """

    def __init__(
        self,
        ttl: float,
        negative_ttl: float,
        max_entries: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ttl = ttl
        self.negative_ttl = negative_ttl
        self.max_entries = max_entries
        self.clock = clock
        self._entries: OrderedDict[Hashable, Answer] = OrderedDict()

    def put(self, key: Hashable, data: bytes | None, reason: str = "") -> Answer:
        answer = Answer(data, reason, self.clock())
        self._entries[key] = answer
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)
        return answer

    def fresh(self, key: Hashable) -> Answer | None:
        answer = self._entries.get(key)
        if answer is None:
            return None
        ttl = self.ttl if answer.data is not None else self.negative_ttl
        return answer if self.clock() - answer.fetched_at < ttl else None

    def stale(self, key: Hashable) -> Answer | None:
        """The last answer with bytes, however old (for serve-stale)."""
        answer = self._entries.get(key)
        return answer if answer is not None and answer.data is not None else None


@dataclass(frozen=True, slots=True)
class Blob:
    data: bytes
    etag: str


class BlobCache:
    """An LRU of immutable .info/.mod (and small .zip) bytes, bounded in bytes; safe because
    blobs never change. A blob over `max_blob` (a sixteenth of the bound) is not kept."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.max_blob = max_bytes // 16
        self._size = 0
        self._blobs: OrderedDict[Hashable, Blob] = OrderedDict()

    def get(self, key: Hashable) -> Blob | None:
        blob = self._blobs.get(key)
        if blob is not None:
            self._blobs.move_to_end(key)
        return blob

    def put(self, key: Hashable, data: bytes) -> Blob:
        blob = Blob(data, etag_of(data))
        if len(data) > self.max_blob:
            return blob  # too big to be worth evicting many small ones
        old = self._blobs.pop(key, None)
        if old is not None:
            self._size -= len(old.data)
        self._blobs[key] = blob
        self._size += len(data)
        while self._size > self.max_bytes:
            _, evicted = self._blobs.popitem(last=False)
            self._size -= len(evicted.data)
        return blob


def etag_of(data: bytes) -> str:
    return '"' + hashlib.sha256(data).hexdigest()[:32] + '"'
