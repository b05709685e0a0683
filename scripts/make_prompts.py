#!/usr/bin/env python3
"""Regenerate the gateway's shipped audio: every prompt of ``webrtc_gateway.prompt_texts`` spoken with espeak-ng,
the hold-music loop, the voicemail beep and a second of silence, into ``webrtc_gateway/media_files/`` (``make prompts``).

Needs the Debian packages ``espeak-ng`` and ``sox`` (only here: the files are committed, so ``make run`` and the
tests never need them) and PyAV (installed with aiortc) for the encoding. Output: Ogg Opus, mono; prompts spoken
at 8 kHz (16 kbit/s, about 2 KB a second), normalised to -3 dBFS, with 150 ms of silence after each so that
pieces played one after another (announcements) do not run together. The music is synthesized here (no
recording, nothing copyrighted) at 16 kHz (24 kbit/s): a slow I-vi-IV-V progression of soft pads, a plucked
arpeggio and a bass line, 16 s that loop without a click. Deterministic: the same inputs and the same libopus
give the same bytes (the Ogg muxer runs bit-exact).

    python scripts/make_prompts.py            # everything
    python scripts/make_prompts.py --only goodbye,hold   # some prompts (music and beep too)
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import wave
from pathlib import Path

import av
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from webrtc_gateway.prompt_texts import PROMPTS, Text  # noqa: E402
from webrtc_gateway.prompts import BEEP, HOLD_MUSIC, PROMPTS_DIR, SILENCE  # noqa: E402

RATE = 8000
MUSIC_RATE = 16000
VOICES = {"en": "en-us", "es": "es"}
SPEED_WPM = 160


def speak(text: Text, language: str, out: Path, work: Path) -> None:
    """Speak ``text`` (pieces in their own voices) into ``out`` (Ogg Opus): 8 kHz mono, normalised, padded."""
    pieces = ((language, text),) if isinstance(text, str) else text
    raw: list[str] = []
    for i, (lang, words) in enumerate(pieces):
        path = work / f"piece{i}.wav"
        subprocess.run(["espeak-ng", "-v", VOICES[lang], "-s", str(SPEED_WPM), "-w", str(path), words], check=True)
        raw.append(str(path))
    wav = work / "spoken.wav"
    subprocess.run(["sox", "-R", *raw, "-r", str(RATE), "-c", "1", "-b", "16", "-e", "signed-integer", str(wav),
                    "norm", "-3", "pad", "0.05", "0.15"], check=True)
    with wave.open(str(wav)) as w:
        pcm = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
    write_opus(out, pcm, RATE, 16000)


def write_opus(path: Path, pcm: np.ndarray, rate: int, bit_rate: int) -> None:
    """16-bit mono ``pcm`` at ``rate`` as Ogg Opus, bit-exact (no random stream serial, no encoder tag)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w", format="ogg", options={"fflags": "+bitexact"}) as container:
        stream = container.add_stream("libopus", rate=rate, options={"application": "audio"})
        stream.bit_rate = bit_rate
        stream.layout = "mono"
        frame = av.AudioFrame.from_ndarray(pcm.reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate = rate
        for packet in [*stream.encode(frame), *stream.encode(None)]:
            container.mux(packet)


def to_pcm(samples: np.ndarray) -> np.ndarray:
    """Floats in -1..1 as 16-bit integers."""
    return np.clip(np.round(samples * 32767), -32768, 32767).astype("<i2")


def _hz(midi: float) -> float:
    return float(440.0 * 2 ** ((midi - 69) / 12))


def _envelope(n: int, attack: int, release: int) -> np.ndarray:
    env = np.ones(n)
    env[:attack] = np.linspace(0.0, 1.0, attack)
    env[n - release:] = np.linspace(1.0, 0.0, release)
    return env


def hold_music(rate: int = MUSIC_RATE, bar_s: float = 4.0) -> np.ndarray:
    """A 16 s loop: C - Am - F - G, each bar a pad chord, an arpeggio of eighth notes and a bass note."""
    chords = [(60, 64, 67), (57, 60, 64), (53, 57, 60), (55, 59, 62)]  # C, Am, F, G (MIDI notes)
    bar = int(bar_s * rate)
    t_bar = np.arange(bar) / rate
    out = np.zeros(bar * len(chords))
    for k, chord in enumerate(chords):
        seg = np.zeros(bar)
        for note in chord:  # the pad: two slightly detuned sines, slow attack and release
            f = _hz(note)
            seg += 0.10 * (np.sin(2 * np.pi * f * t_bar) + np.sin(2 * np.pi * f * 1.003 * t_bar))
        seg *= _envelope(bar, int(0.6 * rate), int(0.8 * rate))
        bass = _hz(chord[0] - 24)
        seg += 0.22 * np.sin(2 * np.pi * bass * t_bar) * np.exp(-t_bar / 1.8) * _envelope(bar, 80, int(0.5 * rate))
        step = bar // 8
        pattern = [chord[0] + 12, chord[1] + 12, chord[2] + 12, chord[1] + 12] * 2
        t_note = np.arange(step) / rate
        for i, note in enumerate(pattern):  # the arpeggio: plucked (fast decay), with a soft octave harmonic
            f = _hz(note)
            pluck = (np.sin(2 * np.pi * f * t_note) + 0.3 * np.sin(4 * np.pi * f * t_note)) * np.exp(-t_note / 0.18)
            seg[i * step:(i + 1) * step] += 0.16 * pluck * _envelope(step, 40, 200)
        out[k * bar:(k + 1) * bar] = seg
    return 0.7 * out / np.max(np.abs(out))


def beep(rate: int = MUSIC_RATE) -> np.ndarray:
    """The voicemail tone: 1 kHz for 400 ms with 10 ms ramps."""
    n = int(0.4 * rate)
    return 0.5 * np.sin(2 * np.pi * 1000 * np.arange(n) / rate) * _envelope(n, 80, 80)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", help="comma-separated prompt names (default: all)")
    args = parser.parse_args(argv)
    missing = [tool for tool in ("espeak-ng", "sox") if shutil.which(tool) is None]
    if missing:
        print(f"make_prompts: install {' '.join(missing)} (apt-get install espeak-ng sox)", file=sys.stderr)
        return 1
    wanted = set(args.only.split(",")) if args.only else set(PROMPTS)
    unknown = wanted - set(PROMPTS)
    if unknown:
        print(f"make_prompts: no text for {', '.join(sorted(unknown))}", file=sys.stderr)
        return 1
    count = 0
    with tempfile.TemporaryDirectory() as tmp:
        for name in sorted(wanted):
            for language, text in sorted(PROMPTS[name].items()):
                speak(text, language, PROMPTS_DIR / language / f"{name}.opus", Path(tmp))
                count += 1
    write_opus(HOLD_MUSIC, to_pcm(hold_music()), MUSIC_RATE, 24000)
    write_opus(BEEP, to_pcm(beep()), MUSIC_RATE, 24000)
    write_opus(SILENCE, np.zeros(MUSIC_RATE, dtype="<i2"), MUSIC_RATE, 24000)
    print(f"make_prompts: {count} prompts, {HOLD_MUSIC.relative_to(ROOT)}, {BEEP.relative_to(ROOT)}, "
          f"{SILENCE.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
