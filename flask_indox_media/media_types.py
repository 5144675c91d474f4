"""Recognising media by its first bytes (magic numbers), never by a client's
``Content-Type`` or file name."""

from __future__ import annotations

from dataclasses import dataclass

#: How many leading bytes :func:`sniff` needs.
SNIFF_BYTES = 64


@dataclass(frozen=True)
class MediaType:
    """A recognised format: its MIME type, file extension and kind
    (``audio``, ``video`` or ``image``)."""

    content_type: str
    extension: str
    kind: str


WAV = MediaType("audio/wav", "wav", "audio")
MP3 = MediaType("audio/mpeg", "mp3", "audio")
OGG = MediaType("audio/ogg", "ogg", "audio")
OPUS = MediaType("audio/ogg; codecs=opus", "opus", "audio")
FLAC = MediaType("audio/flac", "flac", "audio")
M4A = MediaType("audio/mp4", "m4a", "audio")
WEBM = MediaType("audio/webm", "webm", "audio")
MP4 = MediaType("video/mp4", "mp4", "video")
PNG = MediaType("image/png", "png", "image")
JPEG = MediaType("image/jpeg", "jpg", "image")
GIF = MediaType("image/gif", "gif", "image")
WEBP = MediaType("image/webp", "webp", "image")

_AUDIO_MP4_BRANDS = {b"M4A ", b"M4B ", b"M4P ", b"F4A "}
_BY_CONTENT_TYPE = {
    t.content_type.split(";")[0]: t
    for t in (WAV, MP3, OGG, FLAC, M4A, WEBM, MP4, PNG, JPEG, GIF, WEBP)
}
_BY_CONTENT_TYPE.update(
    {
        "audio/x-wav": WAV,
        "audio/wave": WAV,
        "audio/mp3": MP3,
        "audio/x-flac": FLAC,
        "audio/opus": OPUS,
    }
)


def _mp3_frame(head: bytes) -> bool:
    if len(head) < 4 or head[0] != 0xFF or head[1] & 0xE0 != 0xE0:
        return False
    version = (head[1] >> 3) & 0x3
    layer = (head[1] >> 1) & 0x3
    bitrate = head[2] >> 4
    rate = (head[2] >> 2) & 0x3
    return version != 1 and layer == 1 and bitrate not in (0, 15) and rate != 3


def sniff(head: bytes) -> MediaType | None:
    """The format of a file that starts with ``head``, or ``None``.

    :param head: at least :data:`SNIFF_BYTES` bytes where the file has them.
    """
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return WAV
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return WEBP
    if head[:3] == b"ID3" or _mp3_frame(head):
        return MP3
    if head[:4] == b"OggS":
        return OPUS if b"OpusHead" in head[:SNIFF_BYTES] else OGG
    if head[:4] == b"fLaC":
        return FLAC
    if head[4:8] == b"ftyp":
        return M4A if head[8:12] in _AUDIO_MP4_BRANDS else MP4
    if head[:4] == b"\x1a\x45\xdf\xa3":
        return WEBM
    if head[:8] == b"\x89PNG\r\n\x1a\n":
        return PNG
    if head[:3] == b"\xff\xd8\xff":
        return JPEG
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return GIF
    return None


_BY_EXTENSION = {
    t.extension: t
    for t in (WAV, MP3, OGG, OPUS, FLAC, M4A, WEBM, MP4, PNG, JPEG, GIF, WEBP)
}


def from_extension(extension: str) -> MediaType | None:
    """The format the extension this package gives its objects names."""
    return _BY_EXTENSION.get(extension)


def from_content_type(content_type: str | None) -> MediaType | None:
    """The audio format a ``Content-Type`` header names, if known."""
    if not content_type:
        return None
    return _BY_CONTENT_TYPE.get(content_type.split(";")[0].strip().lower())
