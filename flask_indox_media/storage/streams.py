"""File-object adapters for uploads of non-seekable streams."""

from __future__ import annotations

import io
from typing import BinaryIO


class FullReads:
    """Reads that return ``size`` bytes unless the stream ends, and a count.

    s3transfer makes one part of each read of a non-seekable stream; a socket
    that returns short reads would give unequal parts, which R2 refuses.
    """

    def __init__(self, stream: BinaryIO) -> None:
        self._stream = stream
        self.count = 0

    def read(self, size: int = -1) -> bytes:
        if size is None or size < 0:
            data = self._stream.read()
        else:
            chunks: list[bytes] = []
            wanted = size
            while wanted > 0:
                chunk = self._stream.read(wanted)
                if not chunk:
                    break
                chunks.append(chunk)
                wanted -= len(chunk)
            data = b"".join(chunks)
        self.count += len(data)
        return data


class Prefixed:
    """``head`` and then the rest of ``reader``, as one stream."""

    def __init__(self, head: bytes, reader: FullReads) -> None:
        self._head = head
        self._reader = reader

    def read(self, size: int = -1) -> bytes:
        if not self._head:
            return self._reader.read(size)
        if size is None or size < 0:
            data, self._head = self._head + self._reader.read(), b""
            return data
        data, self._head = self._head[:size], self._head[size:]
        if len(data) < size:
            data += self._reader.read(size - len(data))
        return data


class BufferReader(io.RawIOBase):
    """The first ``size`` bytes of ``buffer`` as a seekable stream, without a
    copy of them (botocore seeks back to resend a body on retry). :meth:`close`
    lets the buffer go, to be refilled."""

    def __init__(self, buffer: bytearray, size: int) -> None:
        super().__init__()
        self._view = memoryview(buffer)[:size]
        self._pos = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def read(self, size: int | None = -1) -> bytes:
        end = len(self._view) if size is None or size < 0 else self._pos + size
        data = bytes(self._view[self._pos : end])
        self._pos += len(data)
        return data

    def readall(self) -> bytes:
        return self.read()

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
