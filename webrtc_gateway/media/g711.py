"""G.711 μ-law (PCMU) by table lookup: numpy arrays in and out, no state (sans-IO).

``decode(bytes) -> int16 array`` and ``encode(int16 array) -> bytes`` at the codec's 8 kHz; one lookup per sample,
tables built once at import (256 and 65,536 entries), as Sun's reference ``g711.c``
encodes and decodes (FFmpeg's ``pcm_mulaw`` decodes the same; its encoder rounds 512 of the 65,536 values at segment
boundaries to the neighbouring code).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

_BIAS = 0x84


def _decode_one(byte: int) -> int:
    byte = ~byte & 0xFF
    sign = byte & 0x80
    exponent = (byte >> 4) & 0x07
    mantissa = byte & 0x0F
    sample = (((mantissa << 3) + _BIAS) << exponent) - _BIAS
    return -sample if sign else sample


def _encode_one(sample: int) -> int:
    value = sample >> 2  # the 14-bit form of Sun's g711.c
    mask = 0x7F if value < 0 else 0xFF
    value = min(-value if value < 0 else value, 8159) + 33
    segment = next((i for i, end in enumerate(_SEGMENT_ENDS) if value <= end), 8)
    if segment >= 8:
        return 0x7F ^ mask
    return ((segment << 4) | ((value >> (segment + 1)) & 0x0F)) ^ mask


_SEGMENT_ENDS = (0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF, 0x1FFF)
_DECODE = np.array([_decode_one(b) for b in range(256)], dtype=np.int16)
_ENCODE = np.array([_encode_one(s) for s in range(-32768, 32768)], dtype=np.uint8)


def decode(payload: bytes) -> npt.NDArray[np.int16]:
    """μ-law bytes -> linear 16-bit samples (one per byte)."""
    return _DECODE[np.frombuffer(payload, dtype=np.uint8)]


def encode(samples: npt.NDArray[np.int16]) -> bytes:
    """Linear 16-bit samples -> μ-law bytes (one per sample)."""
    return _ENCODE[samples.astype(np.int32) + 32768].tobytes()
