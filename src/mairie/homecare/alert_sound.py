"""The console's alert sound: two short beeps, generated here so that the WAV in static files is reproducible.

Run ``python -m mairie.homecare.alert_sound`` to write ``static/homecare/alerte.wav`` again.
"""

from __future__ import annotations

import io
import math
import struct
import wave
from pathlib import Path

RATE = 16000
TONES = ((880.0, 0.18), (0.0, 0.08), (1320.0, 0.22))  # (frequency in Hz, seconds); 0 Hz is silence
VOLUME = 0.6
FADE = 0.01  # seconds of fade in and out on each tone (no clicks)
TARGET = Path(__file__).parent / "static" / "homecare" / "alerte.wav"


def alert_wav_bytes() -> bytes:
    frames = bytearray()
    for frequency, seconds in TONES:
        count = int(RATE * seconds)
        fade = int(RATE * FADE)
        for n in range(count):
            envelope = min(1.0, n / fade, (count - n) / fade) if frequency else 0.0
            sample = VOLUME * envelope * math.sin(2 * math.pi * frequency * n / RATE)
            frames += struct.pack("<h", int(sample * 32767))
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(RATE)
        out.writeframes(bytes(frames))
    return buffer.getvalue()


if __name__ == "__main__":
    TARGET.write_bytes(alert_wav_bytes())
    print(f"wrote {TARGET} ({TARGET.stat().st_size} bytes)")
