"""File-object adapters for uploads of non-seekable streams, read with
``readinto`` into buffers the uploader owns, so no layer joins or slices."""

from __future__ import annotations

import io
from typing import Protocol


class ReadsInto(Protocol):
    """A stream that reads into a caller's buffer (``io.RawIOBase.readinto``)."""

    def readinto(self, buffer: memoryview, /) -> int | None: ...


class Readable(Protocol):
    """A stream with ``read`` only (the backend contract's ``BinaryIO``)."""

    def read(self, size: int = -1, /) -> bytes: ...


def fill(stream: ReadsInto, view: memoryview) -> int:
    """Read into ``view`` until it is full or the stream ends; the count."""
    filled = 0
    while filled < len(view):
        count = stream.readinto(view[filled:])
        if not count:
            break
        filled += count
    return filled


class Counted:
    """``readinto`` over any stream, and a count of the bytes read.

    A stream with its own ``readinto`` (a download, a spooled or streamed
    upload) fills the caller's buffer directly; one with ``read`` only costs a
    copy of each chunk.
    """

    def __init__(self, stream: Readable | ReadsInto) -> None:
        self._into = getattr(stream, "readinto", None)
        self._read = getattr(stream, "read", None)
        self.count = 0

    def readinto(self, view: memoryview) -> int:
        if self._into is not None:
            try:
                count = self._into(view) or 0
            except NotImplementedError:  # io.RawIOBase's, for a read-only stream
                self._into = None
                return self.readinto(view)
        else:
            assert self._read is not None
            data = self._read(len(view))
            count = len(data)
            view[:count] = data
        self.count += count
        return count


class HeadFirst:
    """The first ``size`` bytes of ``head`` and then the rest of ``reader``, as
    one stream; ``head`` is let go once it has been read."""

    def __init__(self, head: bytearray, size: int, reader: ReadsInto) -> None:
        self._head: memoryview | None = memoryview(head)[:size]
        self._reader = reader

    def readinto(self, view: memoryview) -> int | None:
        if self._head is None:
            return self._reader.readinto(view)
        count = min(len(view), len(self._head))
        view[:count] = self._head[:count]
        rest = self._head[count:]
        self._head.release()
        self._head = rest if rest else None
        return count


#: The most one :meth:`BufferReader.read` returns (botocore's send block).
READ_AT_MOST = 128 * 1024


class BufferReader(io.RawIOBase):
    """The first ``size`` bytes of ``buffer`` as a seekable stream, without a
    copy of them (botocore seeks back to resend a body on retry). :meth:`close`
    lets the buffer go, to be refilled.

    A sized read returns at most :data:`READ_AT_MOST` bytes, however many are
    asked: botocore hashes a signed body in 1 MiB reads, and each part in
    flight would otherwise hold two such copies (the one hashed and the next),
    whose memory glibc keeps in the sending thread's arena: about 3 MiB of RSS
    per part on top of its buffer.
    """

    def __init__(self, buffer: bytearray | memoryview, size: int) -> None:
        super().__init__()
        self._view = memoryview(buffer)[:size]
        self._pos = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def read(self, size: int | None = -1) -> bytes:
        if size is None or size < 0:
            return self.readall()
        data = bytes(self._view[self._pos : self._pos + min(size, READ_AT_MOST)])
        self._pos += len(data)
        return data

    def readall(self) -> bytes:
        data = bytes(self._view[self._pos :])
        self._pos += len(data)
        return data

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: len(self._view)}
        self._pos = max(0, base[whence] + offset)
        return self._pos

    def tell(self) -> int:
        return self._pos

    def close(self) -> None:
        if not self.closed:
            self._view.release()
        super().close()
