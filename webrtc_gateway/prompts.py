"""The gateway's audio: prompts, announcements, hold music and silence, as files the media workers play.

``Prompts(directory, cache)`` resolves a prompt name (``"choose-language"``, ``"closed"``, ``"main-menu-en"``) to
a file: ``<directory>/<name>-<language>.wav``, then ``<directory>/<name>.wav`` (``.ogg`` and ``.opus`` too), so a
deployment records its own. A prompt with no recording gets a generated placeholder in ``cache``: a short chime
whose pitch is drawn from its name (so two prompts sound different, and tests can tell which one played). Hold
music (``hold-music``) and silence are resolved the same way (generated: a slow four-note arpeggio, and one second
of silence).

Announcements (``announcement(position, wait_s)``): "you are number <position> ... about <minutes> minutes",
composed from the prompts ``position``, ``digit-0`` .. ``digit-9`` and ``minutes`` (a generated digit is that
many short beeps, a long one for 0) into one WAV in ``cache``, made once per (position, minutes). Generated and
composed files are 16 kHz mono 16-bit WAV.

Files are written once and then only read; everything here is blocking file I/O of a few kilobytes, done at
start (``prepare``) or, for an announcement not heard before, on the first call.
"""

from __future__ import annotations

import array
import math
import wave
import zlib
from pathlib import Path

RATE = 16000
EXTENSIONS = (".wav", ".ogg", ".opus")
STANDARD = ("hold-music", "silence", "survey", "thank-you", "callback-offer", "closed", "goodbye")


def _tone(freqs: list[tuple[float, float]], gap_s: float = 0.05, level: float = 0.25) -> array.array:
    """Sine tones ``(frequency, seconds)`` one after another with short gaps and soft edges (0 Hz = silence)."""
    out = array.array("h")
    for freq, seconds in freqs:
        n = int(seconds * RATE)
        ramp = max(1, int(0.01 * RATE))
        for i in range(n):
            edge = min(1.0, i / ramp, (n - 1 - i) / ramp)
            value = level * edge * math.sin(2 * math.pi * freq * i / RATE) if freq else 0.0
            out.append(int(value * 32767))
        out.extend([0] * int(gap_s * RATE))
    return out


def _write(path: Path, samples: array.array) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_suffix(".tmp")
    with wave.open(str(temp), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes(samples.tobytes())
    temp.replace(path)
    return path


def _read(path: Path) -> array.array:
    """The samples of a 16 kHz mono 16-bit WAV (what this module writes); anything else is skipped."""
    with wave.open(str(path), "rb") as w:
        if (w.getnchannels(), w.getsampwidth(), w.getframerate()) != (1, 2, RATE):
            return array.array("h")
        samples = array.array("h")
        samples.frombytes(w.readframes(w.getnframes()))
        return samples


class Prompts:
    """See the module docstring. ``directory``: recorded prompts (may be ``None`` or missing); ``cache``: where
    generated and composed files go."""

    def __init__(self, directory: str | Path | None, cache: str | Path) -> None:
        self.directory = Path(directory) if directory else None
        self.cache = Path(cache)
        self.music = self.prompt("hold-music")
        self.silence = self.prompt("silence")

    def prepare(self, names: tuple[str, ...] = STANDARD) -> None:
        """Resolve (and generate) ``names`` now, so the first call does not wait for it."""
        for name in names:
            self.prompt(name)

    def prompt(self, name: str, language: str = "") -> str:
        """The file of prompt ``name`` in ``language`` (see the module docstring)."""
        safe = "".join(ch if ch.isalnum() or ch in "-_" else "-" for ch in name)[:80] or "prompt"
        lang = "".join(ch for ch in language if ch.isalnum())[:16]
        if self.directory is not None:
            stems = ([f"{safe}-{lang}"] if lang else []) + [safe]
            for stem in stems:
                for ext in EXTENSIONS:
                    candidate = self.directory / f"{stem}{ext}"
                    if candidate.is_file():
                        return str(candidate)
        generated = self.cache / f"{safe}.wav"
        if not generated.is_file():
            _write(generated, self._placeholder(safe))
        return str(generated)

    def announcement(self, position: int, wait_s: float) -> str:
        """One file saying the caller's ``position`` and estimated wait in minutes (at least 1)."""
        position = max(1, min(int(position), 9999))
        minutes = max(1, min(round(wait_s / 60), 999))
        path = self.cache / "announcements" / f"position-{position}-minutes-{minutes}.wav"
        if not path.is_file():
            parts = ["position", *(f"digit-{d}" for d in str(position)), "wait",
                     *(f"digit-{d}" for d in str(minutes)), "minutes"]
            samples = array.array("h")
            for part in parts:
                file = Path(self.prompt(part))
                if file.suffix == ".wav":
                    samples.extend(_read(file))
            _write(path, samples)
        return str(path)

    @staticmethod
    def _placeholder(name: str) -> array.array:
        if name == "silence":
            return array.array("h", bytes(2 * RATE))
        if name == "hold-music":
            notes = [(392.0, 0.45), (493.9, 0.45), (587.3, 0.45), (784.0, 0.65)]
            return _tone(notes * 2, gap_s=0.08, level=0.15)
        if name.startswith("digit-") and name[6:].isdigit():
            count = int(name[6:])
            return _tone([(880.0, 0.08)] * count if count else [(660.0, 0.3)], gap_s=0.07)
        pitch = 440.0 + (zlib.crc32(name.encode()) % 24) * 20.0
        return _tone([(pitch, 0.18), (pitch * 1.25, 0.18), (0.0, 0.1)], gap_s=0.03)
