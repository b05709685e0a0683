"""In-band DTMF detection (the fallback when a caller's key presses arrive as tones in the audio): sans-IO.

``InbandDetector.feed(pcm)`` takes 16 kHz mono int16 samples in any chunking and returns the key presses completed.
The audio is cut into 20 ms blocks (320 samples); in each, the power at the eight DTMF frequencies is measured
with the Goertzel algorithm (one matrix product for all eight). A block holds a key when:

- its energy is above ``min_level`` (about -40 dBFS);
- the strongest row tone and the strongest column tone together hold at least ``min_purity`` of the block's
  energy (speech and music spread theirs);
- each of the two is at least ``other_db`` stronger than the next tone of its group;
- twist (row against column power) is within +/-``twist_db``.

A key press starts after ``hits`` consecutive blocks agree on a key and ends at the first ``hits`` blocks without
it; it is reported at its end, with its duration. So a key held for 40 ms or more is detected, and the 40 ms pause
that ITU-T Q.24 requires between keys separates two presses of the same key.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from webrtc_gateway.media.rfc4733 import KeyPress

ROWS = (697.0, 770.0, 852.0, 941.0)
COLUMNS = (1209.0, 1336.0, 1477.0, 1633.0)
KEYPAD = ("123A", "456B", "789C", "*0#D")
RATE = 16000
BLOCK = 320


def _basis(rate: int, block: int) -> npt.NDArray[np.complex128]:
    n = np.arange(block)
    return np.exp(-2j * np.pi * np.outer(np.array(ROWS + COLUMNS), n) / rate)


class InbandDetector:
    """Samples in, key presses out (each once, at its end)."""

    def __init__(self, *, rate: int = RATE, min_level: float = 1e-4, min_purity: float = 0.6,
                 other_db: float = 8.0, twist_db: float = 8.0, hits: int = 2) -> None:
        self._rate = rate
        self._block = rate // 50
        self._basis = _basis(rate, self._block)
        self._pending = np.zeros(0, dtype=np.float64)
        self._min_level = min_level
        self._min_purity = min_purity
        self._other = 10 ** (other_db / 10)
        self._twist = 10 ** (twist_db / 10)
        self._hits = hits
        self._candidate: str | None = None
        self._candidate_blocks = 0
        self._key: str | None = None
        self._key_blocks = 0
        self._gap_blocks = 0

    def feed(self, pcm: npt.NDArray[np.int16]) -> list[KeyPress]:
        """The key presses that ended within these samples."""
        self._pending = np.concatenate((self._pending, pcm.astype(np.float64) / 32768.0))
        out: list[KeyPress] = []
        while len(self._pending) >= self._block:
            block, self._pending = self._pending[:self._block], self._pending[self._block:]
            out += self._step(self.classify(block))
        return out

    def classify(self, block: npt.NDArray[np.float64]) -> str | None:
        """The key one block of samples (scaled to +/-1) holds, or None."""
        energy = float(np.dot(block, block))
        if energy / len(block) < self._min_level:
            return None
        power = np.abs(self._basis @ block) ** 2 * 2 / len(block)  # a pure tone's power ~ its share of ``energy``
        rows, columns = power[:4], power[4:]
        r, c = int(rows.argmax()), int(columns.argmax())
        if (rows[r] + columns[c]) < self._min_purity * energy:
            return None
        if np.sort(rows)[-2] * self._other > rows[r] or np.sort(columns)[-2] * self._other > columns[c]:
            return None
        if rows[r] > columns[c] * self._twist or columns[c] > rows[r] * self._twist:
            return None
        return KEYPAD[r][c]

    def _step(self, key: str | None) -> list[KeyPress]:
        if self._key is not None:
            if key == self._key:
                self._key_blocks += 1 + self._gap_blocks
                self._gap_blocks = 0
                return []
            self._gap_blocks += 1
            if self._gap_blocks < self._hits:
                return []
            pressed = KeyPress(self._key, self._key_blocks * 1000 * self._block / self._rate)
            self._key = None
            self._candidate, self._candidate_blocks = (key, 1) if key else (None, 0)
            return [pressed]
        if key is not None and key == self._candidate:
            self._candidate_blocks += 1
        else:
            self._candidate, self._candidate_blocks = key, (1 if key else 0)
        if self._candidate is not None and self._candidate_blocks >= self._hits:
            self._key, self._key_blocks, self._gap_blocks = self._candidate, self._candidate_blocks, 0
            self._candidate, self._candidate_blocks = None, 0
        return []
