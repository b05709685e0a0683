"""The media plane (``docs/gateway.md``): aiortc on plain asyncio, in worker processes.

``worker`` (the process and its commands), ``leg`` (one peer connection), ``tap`` and ``output`` (encoded audio in
and out of a leg, past aiortc's decoder and encoder), ``bridge`` (passthrough, mixes, recording, supervision),
``player`` (prompts, hold music), ``audio`` and ``g711`` (codecs), ``rfc4733`` and ``inband`` (DTMF),
``aiortc_patch`` (what is changed in aiortc and aioice, and why). The trio side is ``webrtc_gateway.pool``.
"""
