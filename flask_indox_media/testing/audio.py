"""Real audio bytes, generated: a sine tone as WAV, and MPEG-1 Layer III frames
as MP3. For tests and the fake upstream; nothing is downloaded."""

from __future__ import annotations

import io
import math
import struct
import wave


def wav_bytes(
    seconds: float = 1.0, *, frequency: float = 440.0, rate: int = 16000
) -> bytes:
    """A mono 16-bit PCM WAV of a sine tone."""
    frames = int(seconds * rate)
    samples = (
        int(12000 * math.sin(2 * math.pi * frequency * i / rate)) for i in range(frames)
    )
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(struct.pack(f"<{frames}h", *samples))
    return buffer.getvalue()


#: MPEG-1 Layer III, 128 kbit/s, 44.1 kHz, mono, no CRC: 417-byte frames.
_MP3_HEADER = bytes([0xFF, 0xFB, 0x90, 0xC4])
_MP3_FRAME = _MP3_HEADER + bytes(417 - len(_MP3_HEADER))
_MP3_FRAME_SECONDS = 1152 / 44100


def mp3_bytes(seconds: float = 1.0) -> bytes:
    """A valid MP3 stream (silent frames a decoder plays as silence)."""
    return _MP3_FRAME * max(1, round(seconds / _MP3_FRAME_SECONDS))


def audio_bytes(output_format: str, seconds: float = 1.0) -> bytes:
    """``wav`` or ``mp3`` bytes of about ``seconds``."""
    return mp3_bytes(seconds) if output_format == "mp3" else wav_bytes(seconds)
