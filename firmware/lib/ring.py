"""A bounded ring buffer of readings in a flash file, replayed oldest first.

Fixed-size slots, so appending and dropping never move data: a 16-byte header (head, count,
readings dropped) and ``slots`` records of ``SLOT`` bytes (a 2-byte length and the JSON).
When the buffer is full the oldest reading is overwritten and counted as dropped; the count
travels in the next batch (``dropped``) and is cleared once that batch is acknowledged.
"""

import io
import struct

SLOT = 256  # the longest reading (48-character id, every field, huge counters) is 235 bytes
_MAGIC = b"SSR1"
_HEADER = "!4sHHHHI"  # magic, slot size, slots, head, count, dropped
_HEADER_SIZE = 16


class RingBuffer:
    def __init__(self, path: str, slots: int) -> None:
        self.path = path
        self.slots = slots
        self.head = self.count = self.dropped = 0
        self._slot = bytearray(SLOT)
        self._file = self._open()
        self._save_header()

    def _open(self) -> io.BufferedRandom:
        try:
            f = open(self.path, "r+b")
        except OSError:
            print("ring: new buffer")
            return open(self.path, "w+b")
        header = f.read(_HEADER_SIZE)
        if len(header) == _HEADER_SIZE:
            magic, size, n, head, count, dropped = struct.unpack(_HEADER, header)
            if magic == _MAGIC and size == SLOT and n == self.slots and count <= n and head < n:
                self.head, self.count, self.dropped = head, count, dropped
                return f
        # Another layout (the slot count was changed in the settings) or a torn header: the
        # old readings cannot be trusted, start empty rather than replay garbage.
        print("ring: unreadable header, starting empty")
        return f

    def append(self, reading: bytes) -> None:
        if len(reading) > SLOT - 2:
            raise ValueError("reading of %d bytes does not fit a slot" % len(reading))
        index = (self.head + self.count) % self.slots
        if self.count == self.slots:
            self.head = (self.head + 1) % self.slots
            self.dropped += 1
        else:
            self.count += 1
        slot = self._slot
        struct.pack_into("!H", slot, 0, len(reading))
        slot[2:2 + len(reading)] = reading
        self._file.seek(_HEADER_SIZE + index * SLOT)
        self._file.write(slot)
        self._save_header()

    def message_into(self, buf: bytearray, most: int) -> tuple[int, int, int]:
        """Write the oldest readings into ``buf`` as one telemetry message: the reading alone,
        or a batch that also reports the readings dropped so far. Returns (readings, dropped,
        length). ``buf`` must hold ``most`` slots and 40 bytes."""
        count = min(self.count, most)
        if count == 1 and not self.dropped:
            return 1, 0, self._read_into(buf, 0, 1)
        buf[0:13] = b'{"readings":['
        end = self._read_into(buf, 13, count)
        tail = ('],"dropped":%d}' % self.dropped).encode()
        buf[end:end + len(tail)] = tail
        return count, self.dropped, end + len(tail)

    def _read_into(self, buf: bytearray, at: int, n: int) -> int:
        view = memoryview(self._slot)
        for i in range(n):
            self._file.seek(_HEADER_SIZE + (self.head + i) % self.slots * SLOT)
            self._file.readinto(self._slot)
            size = self._slot[0] << 8 | self._slot[1]
            if i:
                buf[at] = 44  # ","
                at += 1
            buf[at:at + size] = view[2:2 + size]
            at += size
        return at

    def pop(self, n: int, dropped_reported: int) -> None:
        """Forget the ``n`` oldest readings once the broker has acknowledged them."""
        self.head = (self.head + n) % self.slots
        self.count -= n
        self.dropped -= dropped_reported
        self._save_header()

    def _save_header(self) -> None:
        self._file.seek(0)
        self._file.write(struct.pack(_HEADER, _MAGIC, SLOT, self.slots, self.head, self.count,
                                     self.dropped))
        self._file.flush()
