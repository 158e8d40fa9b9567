"""Remember recently seen reading keys ``(id, boot, seq)`` so that duplicates are dropped.

Bounded: the oldest keys are forgotten first. The backend's ingest is idempotent as well, so a
duplicate older than the window (or one arriving after a gateway restart) is still harmless.
"""

from __future__ import annotations

from collections import OrderedDict

Key = tuple[str, int, int]


class RecentKeys:
    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._keys: OrderedDict[Key, None] = OrderedDict()

    def first_time(self, key: Key) -> bool:
        """True the first time a key is seen within the window; records it."""
        if key in self._keys:
            return False
        self._keys[key] = None
        if len(self._keys) > self.capacity:
            self._keys.popitem(last=False)
        return True

    def __len__(self) -> int:
        return len(self._keys)
