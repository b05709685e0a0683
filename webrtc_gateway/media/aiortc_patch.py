"""The two changes the media plane makes to aiortc and aioice, in one place (installed by ``install()``).

1. ``telephone-event`` (RFC 4733) is added to aiortc's audio codec table, at 48 kHz and at 8 kHz (browsers offer
   both and send at the clock rate of the audio codec in use), so that it is negotiated and its packets reach the
   leg's receive tap (``webrtc_gateway.media.tap``), which decodes them. aiortc never sends it: the gateway only
   receives key presses. Nothing in aiortc decodes it either, because the tap takes every packet before aiortc's
   jitter buffer and decoder.
2. Loopback host candidates. aioice gathers a host candidate for every address of the machine except 127.0.0.1.
   Inside ``loopback()`` (a context manager setting a context variable, which the tasks aiortc starts while
   gathering inherit) ``aioice.ice.get_host_addresses`` answers ``["127.0.0.1"]`` only: such a leg offers no other
   address, so its media stays on loopback (tests, benchmarks, a browser on the same machine).

Both are process-wide and idempotent; the worker installs them at start, and so do test and benchmark peers.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator

import aioice.ice
from aiortc.codecs import CODECS
from aiortc.rtcrtpparameters import RTCRtpCodecCapability, RTCRtpCodecParameters

TELEPHONE_EVENT_48K = RTCRtpCodecParameters(mimeType="audio/telephone-event", clockRate=48000, channels=1,
                                            payloadType=110)
TELEPHONE_EVENT_8K = RTCRtpCodecParameters(mimeType="audio/telephone-event", clockRate=8000, channels=1,
                                           payloadType=126)

_LOOPBACK: contextvars.ContextVar[bool] = contextvars.ContextVar("switchboard_ice_loopback", default=False)
_original_get_host_addresses = aioice.ice.get_host_addresses


def _get_host_addresses(use_ipv4: bool, use_ipv6: bool) -> list[str]:
    if _LOOPBACK.get():
        return ["127.0.0.1"] if use_ipv4 else []
    return _original_get_host_addresses(use_ipv4, use_ipv6)


def install() -> None:
    """Apply both changes (once; later calls do nothing)."""
    audio = CODECS["audio"]
    for codec in (TELEPHONE_EVENT_48K, TELEPHONE_EVENT_8K):
        if not any(c.mimeType.lower() == codec.mimeType and c.clockRate == codec.clockRate for c in audio):
            audio.append(codec)
    aioice.ice.get_host_addresses = _get_host_addresses


@contextlib.contextmanager
def loopback(enabled: bool = True) -> Iterator[None]:
    """Within this block (and the tasks started in it) ICE gathers 127.0.0.1 as its only host address."""
    token = _LOOPBACK.set(enabled)
    try:
        yield
    finally:
        _LOOPBACK.reset(token)


def capabilities(names: tuple[str, ...]) -> list[RTCRtpCodecCapability]:
    """aiortc's audio codec capabilities for ``names`` (``"opus"``, ``"PCMU"``, ``"telephone-event"``), in that order
    of preference: what ``RTCRtpTransceiver.setCodecPreferences`` takes."""
    from aiortc import RTCRtpSender

    wanted = [n.lower() for n in names]
    found = [c for c in RTCRtpSender.getCapabilities("audio").codecs if c.name.lower() in wanted]
    return sorted(found, key=lambda c: wanted.index(c.name.lower()))
