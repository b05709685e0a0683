"""DTMF detection, sans-IO: RFC 4733 telephone-events and in-band tones (Goertzel)."""

from __future__ import annotations

import numpy as np
import pytest

from webrtc_gateway.media.inband import COLUMNS, KEYPAD, ROWS, InbandDetector
from webrtc_gateway.media.rfc4733 import KeyPress, TelephoneEventDecoder, build, parse


def event_packets(event: int, timestamp: int, step: int = 160, packets: int = 5, end_repeats: int = 3
                  ) -> list[tuple[bytes, int]]:
    out = [(build(event, False, i * step), timestamp) for i in range(1, packets + 1)]
    return out + [(build(event, True, (packets + 1) * step), timestamp)] * end_repeats


def test_one_press_per_event_at_its_end_bit_duplicates_ignored() -> None:
    decoder = TelephoneEventDecoder(8000)
    got = []
    for payload, ts in event_packets(1, 1000) + event_packets(11, 5000) + event_packets(11, 9000):
        got += decoder.feed(payload, ts)
    assert got == [KeyPress("1", 120.0), KeyPress("#", 120.0), KeyPress("#", 120.0)]


def test_an_event_whose_end_was_lost_is_reported_when_the_next_starts() -> None:
    decoder = TelephoneEventDecoder(48000)
    got = []
    for payload, ts in event_packets(5, 100, step=960, end_repeats=0) + event_packets(0, 20000, step=960):
        got += decoder.feed(payload, ts)
    assert got == [KeyPress("5", 100.0), KeyPress("0", 120.0)]


def test_odd_payloads_and_non_key_events_are_ignored() -> None:
    decoder = TelephoneEventDecoder(8000)
    assert parse(b"\x01") is None
    assert decoder.feed(b"\x01", 1) == []
    assert decoder.feed(build(16, True, 800), 2) == []  # flash
    assert parse(build(15, True, 65535, volume=63)) == (15, True, 63, 65535)
    assert decoder.feed(build(15, True, 800), 3) == [KeyPress("D", 100.0)]


def keys_signal(spec: list[tuple[str | None, int]], rate: int = 16000, noise: float = 300.0) -> np.ndarray:
    rng = np.random.default_rng(7)
    parts = []
    for key, ms in spec:
        t = np.arange(rate * ms // 1000) / rate
        if key is None:
            parts.append(np.zeros(len(t)))
            continue
        row = next(i for i, keys in enumerate(KEYPAD) if key in keys)
        parts.append(6000 * (np.sin(2 * np.pi * ROWS[row] * t) + np.sin(2 * np.pi * COLUMNS[KEYPAD[row].index(key)] * t)))
    signal = np.concatenate(parts)
    return (signal + rng.normal(0, noise, len(signal))).astype(np.int16)


@pytest.mark.parametrize("chunk", [137, 320, 4000])
def test_in_band_keys_are_detected_once_each(chunk: int) -> None:
    signal = keys_signal([(None, 60), ("1", 100), (None, 60), ("#", 60), (None, 60), ("5", 80), (None, 40),
                          ("5", 80), (None, 80)] + [(k, 60) for k in "0123456789*#ABCD" for _ in (0,)] + [(None, 80)])
    # keys back to back without a pause are one long press only if they are the same key: here each differs
    detector = InbandDetector()
    got = []
    for i in range(0, len(signal), chunk):
        got += detector.feed(signal[i:i + chunk])
    assert [p.digit for p in got] == list("1#55") + list("0123456789*#ABCD")
    assert 80 <= got[0].duration_ms <= 120


def test_speech_like_sound_and_short_blips_are_not_keys() -> None:
    t = np.arange(16000 * 2) / 16000
    speechy = 5000 * np.sin(2 * np.pi * 440 * t) * np.sin(2 * np.pi * 3 * t) + 3000 * np.sin(2 * np.pi * 1209 * t)
    assert InbandDetector().feed(speechy.astype(np.int16)) == []
    assert InbandDetector().feed(keys_signal([(None, 40), ("7", 20), (None, 100)])) == []
    assert InbandDetector().feed(np.zeros(16000, dtype=np.int16)) == []
