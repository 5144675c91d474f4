"""A multipart/form-data body read part by part as it arrives (werkzeug's
sans-IO :class:`~werkzeug.sansio.multipart.MultipartDecoder`), so a file part
can go to storage as it streams in, without a spool."""

from __future__ import annotations

from collections.abc import Callable

from werkzeug.exceptions import ClientDisconnected, RequestEntityTooLarge
from werkzeug.sansio.multipart import (
    Data,
    Epilogue,
    Event,
    Field,
    File,
    MultipartDecoder,
    NeedData,
)

from ..exceptions import RequestError

#: How much of the body one read asks for.
READ_SIZE = 256 * 1024


def malformed(why: str = "malformed multipart body") -> RequestError:
    return RequestError(400, why)


class FormStream:
    """The parts of a multipart/form-data body, read only as far as asked.

    :meth:`next_file` reads on to the next file part, keeping the plain fields
    it passes in :attr:`fields` (the first value of each name); the caller then
    reads that part's bytes with :meth:`readinto`, or moves on and they are
    skipped.

    :param read: reads up to ``n`` bytes of the body; ``b""`` at its end.
    :param max_parts: more parts than this raise ``RequestEntityTooLarge``.
    :param max_field_bytes: so does a plain field longer than this.
    :raises RequestError: (400) from any method that reads, for a malformed
        body or a client gone before its end.
    """

    def __init__(
        self,
        read: Callable[[int], bytes],
        boundary: bytes,
        *,
        max_parts: int,
        max_field_bytes: int,
    ) -> None:
        self._read = read
        self._decoder = MultipartDecoder(boundary, max_parts=max_parts)
        self._max_field = max_field_bytes
        #: The plain (non-file) fields read so far.
        self.fields: dict[str, str] = {}
        self._field: tuple[str, bytearray] | None = None
        self._in_file = False
        self._pending = memoryview(b"")
        self._ended = False

    def _event(self) -> Event:
        while True:
            try:
                event = self._decoder.next_event()
            except ValueError:
                raise malformed() from None
            if not isinstance(event, NeedData):
                return event
            try:
                data = self._read(READ_SIZE)
            except ClientDisconnected:
                raise malformed("the body ended before its declared length") from None
            self._decoder.receive_data(data or None)

    def next_file(self) -> File | None:
        """Read on to the next file part, skipping what is left of this one;
        ``None`` at the end of the body."""
        self._pending = memoryview(b"")
        while not self._ended:
            event = self._event()
            if isinstance(event, File):
                self._in_file = True
                return event
            self._take(event)
        return None

    def _take(self, event: Event) -> None:
        if isinstance(event, Field):
            self._in_file, self._field = False, (event.name, bytearray())
        elif isinstance(event, Data) and self._field is not None:
            name, value = self._field
            value += event.data
            if len(value) > self._max_field:
                raise RequestEntityTooLarge()
            if not event.more_data:
                self.fields.setdefault(name, value.decode("utf-8", "replace"))
                self._field = None
        elif isinstance(event, Data) and not event.more_data:
            self._in_file = False  # the end of a skipped file part
        elif isinstance(event, Epilogue):
            self._ended = True

    def readinto(self, view: memoryview) -> int:
        """Bytes of the current file part; 0 at its end."""
        while not self._pending:
            if not self._in_file:
                return 0
            event = self._event()
            assert isinstance(event, Data)  # a file part's bytes, up to its end
            self._pending = memoryview(event.data)
            self._in_file = event.more_data
        count = min(len(view), len(self._pending))
        view[:count] = self._pending[:count]
        self._pending = self._pending[count:]
        return count

    def finish(self) -> None:
        """Read the rest of the body, skipping file parts: it must be whole
        and well formed."""
        while self.next_file() is not None:
            pass
