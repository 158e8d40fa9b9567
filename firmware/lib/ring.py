"""A bounded buffer of readings in flash, replayed oldest first, that wears the flash evenly.

LittleFS copies a file's block to a fresh one whenever any byte of it changes, so a buffer that
rewrites a header in place costs the whole file at every reading. Here nothing is rewritten:

- readings are appended as records (a marker byte, a 2-byte length, the CRC32 of the reading,
  the reading's JSON) to numbered segment files in the folder ``path``; one append programs
  about one block;
- a new segment starts every ``slots / 4`` readings, and a segment is deleted once every reading
  in it has been sent or dropped, so the files never hold much more than ``slots`` readings;
- the position of the oldest reading and the counters live in a tiny index file (``head``),
  which LittleFS keeps inside its directory block, rewritten only when readings leave;
- at start-up the segments are read once to count the readings.

When ``slots`` readings wait, the oldest is dropped and counted; the count travels in the next
batch (``dropped``) and is cleared once that batch is acknowledged. LittleFS does not checksum
file data: a record whose CRC does not match is skipped (the next marker is searched for),
counted in ``corrupt`` and reported as dropped, once, when the oldest reading moves past it.
"""

import binascii
import io
import os
import struct

SLOT = 256  # the longest reading (48-character id, every field, huge counters) is 235 bytes,
# 252 when one sensor failed (its name in sensor_errors instead of its shorter field)
SEGMENTS = 4  # a full buffer spans four segments (five while the oldest one drains)
_MARK = 0xFE  # never a byte of UTF-8 text: a search for the next record cannot stop inside one
_RECORD = "!BHI"  # marker, length, CRC32 of the reading
_RECORD_SIZE = 7
_INDEX = "head"


class RingBuffer:
    def __init__(self, path: str, slots: int) -> None:
        self.path = path
        self.slots = slots
        self.per_segment = max(1, (slots + SEGMENTS - 1) // SEGMENTS)
        self.count = 0  # readings waiting
        self.dropped = 0  # readings lost since the last acknowledged batch
        self.corrupt = 0  # corrupt records skipped since the buffer was made (kept in flash)
        self._record = bytearray(_RECORD_SIZE + SLOT)  # reused for every append and read
        self._segments: list = []  # [number, bytes, records], oldest first
        self._head = 0  # offset of the oldest reading in the first segment
        self._first = 0  # the first segment's number, also when there is none yet
        self._taken = self._skipped = 0  # what the last message_into read
        self._after = (0, 0)  # where it stopped: (segment index, offset)
        self._read_index()
        self._scan()

    # -- the public interface -------------------------------------------------------------------

    def append(self, reading: bytes) -> None:
        size = len(reading)
        if size > SLOT - 2:
            raise ValueError("reading of %d bytes does not fit a slot" % size)
        if self.count == self.slots:
            self._drop_oldest()
        segments = self._segments
        if not segments or segments[-1][2] >= self.per_segment:
            number = segments[-1][0] + 1 if segments else self._first
            segments.append([number, 0, 0])
        tail = segments[-1]
        record = self._record
        struct.pack_into(_RECORD, record, 0, _MARK, size, binascii.crc32(reading))
        record[_RECORD_SIZE : _RECORD_SIZE + size] = reading
        with open(self._name(tail[0]), "ab") as f:
            f.write(memoryview(record)[: _RECORD_SIZE + size])
        tail[1] += _RECORD_SIZE + size
        tail[2] += 1
        self.count += 1

    def message_into(self, buf: bytearray, most: int) -> tuple[int, int, int]:
        """Write the oldest readings into ``buf`` as one telemetry message: the reading alone,
        or a batch that also reports the readings dropped so far. Returns (readings, dropped,
        length). ``buf`` must hold ``most`` slots and 40 bytes."""
        at = 13  # after '{"readings":['
        taken = skipped = 0
        index, offset = 0, self._head
        view = memoryview(self._record)
        while taken < min(self.count, most):
            size, offset, index, gap = self._next(index, offset)
            skipped += gap
            if size < 0:  # the rest is corrupt: the count from the scan was too high
                self.count = taken
                break
            if taken:
                buf[at] = 44  # ","
                at += 1
            buf[at : at + size] = view[_RECORD_SIZE : _RECORD_SIZE + size]
            at += size
            taken += 1
        self._taken, self._skipped, self._after = taken, skipped, (index, offset)
        dropped = self.dropped + skipped
        if taken == 1 and not dropped:
            size = at - 13
            buf[0:size] = buf[13:at]
            return 1, 0, size
        buf[0:13] = b'{"readings":['
        tail = ('],"dropped":%d}' % dropped).encode()
        buf[at : at + len(tail)] = tail
        return taken, dropped, at + len(tail)

    def pop(self, n: int, dropped_reported: int) -> None:
        """Forget the ``n`` oldest readings once the broker has acknowledged the message that
        ``message_into`` made of them."""
        if n != self._taken:
            raise ValueError("pop %d readings, but the message holds %d" % (n, self._taken))
        self.count -= n
        self.corrupt += self._skipped
        self.dropped += self._skipped - dropped_reported
        self._taken = self._skipped = 0
        self._move_head(self._after)

    # -- moving the oldest reading --------------------------------------------------------------

    def _drop_oldest(self) -> None:
        size, offset, index, gap = self._next(0, self._head)
        self.corrupt += gap
        self.dropped += gap + (size >= 0)
        self.count = self.count - 1 if size >= 0 else 0
        self._move_head((index, offset))

    def _move_head(self, where: tuple) -> None:
        """The index first, then the segments behind it: a reset in between leaves segments
        that the next start deletes, never an index that points at nothing."""
        index, offset = where
        segments = self._segments
        while index < len(segments) - 1 and offset >= segments[index][1]:
            index, offset = index + 1, 0
        gone = segments[:index]
        del segments[:index]
        self._head = offset
        if segments:
            self._first = segments[0][0]
        self._write_index()
        for number, _, _ in gone:
            os.remove(self._name(number))

    # -- records --------------------------------------------------------------------------------

    def _next(self, index: int, offset: int) -> tuple[int, int, int, int]:
        """The first good record at or after ``offset`` of segment ``index`` (read into
        ``self._record``): (its length, the offset after it, its segment index, the corrupt
        stretches passed). Length -1: no good record is left."""
        segments = self._segments
        gaps = 0
        while index < len(segments):
            number, end, _ = segments[index]
            if offset < end:
                with open(self._name(number), "rb") as f:
                    size = self._read(f, offset, end)
                    if size < 0:
                        gaps += 1
                        offset = self._resync(f, offset + 1, end)
                        print("ring: corrupt record skipped in segment %d" % number)
                        if offset < end:
                            size = self._read(f, offset, end)
                if size >= 0:
                    return size, offset + _RECORD_SIZE + size, index, gaps
            index, offset = index + 1, 0
        if not segments:
            return -1, 0, 0, gaps
        return -1, segments[-1][1], len(segments) - 1, gaps

    def _read(self, f: io.BufferedReader, offset: int, end: int) -> int:
        """The length of the good record at ``offset``, read into ``self._record``; -1 if
        there is none."""
        if end - offset < _RECORD_SIZE + 1:
            return -1
        record = self._record
        view = memoryview(record)
        f.seek(offset)
        if f.readinto(view[:_RECORD_SIZE]) != _RECORD_SIZE:
            return -1
        mark, size, crc = struct.unpack_from(_RECORD, record)
        if mark != _MARK or not 0 < size <= SLOT - 2 or offset + _RECORD_SIZE + size > end:
            return -1
        body = view[_RECORD_SIZE : _RECORD_SIZE + size]
        if f.readinto(body) != size or binascii.crc32(body) != crc:
            return -1
        return size

    def _resync(self, f: io.BufferedReader, offset: int, end: int) -> int:
        """The offset of the next good record from ``offset`` on, or ``end``."""
        chunk = bytearray(64)
        while offset < end:
            f.seek(offset)
            got = f.readinto(chunk)
            if not got:
                break
            found = bytes(chunk[:got]).find(bytes((_MARK,)))
            if found < 0:
                offset += got
                continue
            offset += found
            if self._read(f, offset, end) >= 0:
                return offset
            offset += 1
        return end

    # -- flash ----------------------------------------------------------------------------------

    def _name(self, number: int) -> str:
        return "%s/%d" % (self.path, number)

    def _listdir(self) -> list:
        try:
            return os.listdir(self.path)
        except OSError:
            print("ring: new buffer in %s" % self.path)
            os.mkdir(self.path)
            return []

    def _read_index(self) -> None:
        try:
            with open(self._name_of(_INDEX), "rb") as f:
                data = f.read()
        except OSError:
            return  # a new buffer
        fields, _, crc = data.rpartition(b" ")
        try:
            if int(crc, 16) == binascii.crc32(fields):
                first, head, dropped, corrupt = [int(field) for field in fields.split()]
                self._first, self._head, self.dropped, self.corrupt = first, head, dropped, corrupt
                return
        except ValueError:  # UnicodeError is one
            pass
        # Start from the oldest segment: readings sent already go again, and the gateway drops
        # them as duplicates.
        print("ring: %s unreadable, replaying every segment" % _INDEX)
        self._first = -1

    def _write_index(self) -> None:
        fields = "%d %d %d %d" % (self._first, self._head, self.dropped, self.corrupt)
        with open(self._name_of(_INDEX), "w") as f:
            f.write("%s %08x" % (fields, binascii.crc32(fields.encode())))

    def _name_of(self, name: str) -> str:
        return "%s/%s" % (self.path, name)

    def _scan(self) -> None:
        """Find the segments, delete those already sent, count the readings waiting."""
        numbers = sorted(int(name) for name in self._listdir() if name.isdigit())
        if self._first < 0 or (numbers and self._first < numbers[0]):
            self._first, self._head = (numbers[0] if numbers else 0), 0
        for number in numbers:
            if number < self._first:
                os.remove(self._name(number))  # sent, but a reset came before its deletion
                continue
            end = os.stat(self._name(number))[6]
            self._segments.append([number, end, 0])
        if self._segments and self._segments[0][0] != self._first:
            self._head = 0  # the index's segment is gone: start at the oldest there is
        self._first = self._segments[0][0] if self._segments else self._first
        index = 0
        offset = self._head
        while True:
            size, offset, index, _ = self._next(index, offset)
            if size < 0:
                break
            self.count += 1
        while self.count > self.slots:  # buffer_slots was made smaller
            self._drop_oldest()
        # Records per segment decide when the last one is full; the first one's sent readings
        # count as well.
        for segment in self._segments[-1:]:
            segment[2] = self._records_in(segment[0], segment[1])

    def _records_in(self, number: int, end: int) -> int:
        records = offset = 0
        with open(self._name(number), "rb") as f:
            while offset < end:
                size = self._read(f, offset, end)
                if size < 0:
                    offset = self._resync(f, offset + 1, end)
                    continue
                offset += _RECORD_SIZE + size
                records += 1
        return records
