"""The WebRTC gateway: browser agents and web callers with real audio (``docs/gateway.md``).

A channel adapter plugin: the engine never imports it. Its media plane (aiortc, asyncio) runs in worker
processes (``webrtc_gateway.media``), controlled from the trio engine over ``webrtc_gateway.protocol``.
"""
