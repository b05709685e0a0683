"""Benchmarks runnable by ops: ``switchboard bench NAME [--json]``.

``BENCHES`` maps a bench name to its module; each module exposes ``add_arguments(parser)`` and ``run(args) -> dict``.
"""

BENCHES: dict[str, str] = {"routing": "benchmarks.routing", "pacing": "benchmarks.pacing",
                           "dialer": "benchmarks.dialer", "api": "benchmarks.api",
                           "gateway": "benchmarks.gateway"}
