"""The simulator: seeded simulated callers and agents driving the production ACD in virtual time.

- ``distributions``: seeded samplers (fixed, exponential, lognormal) parsed from scenario specs.
- ``scenario``: the scenario TOML files (``benchmarks/scenarios``), with ``[[phase]]`` changes mid-shift.
- ``channel``: ``SimulatedChannel``, the channel adapter (arrivals, patience, agents answering and hanging up).
- ``driver``: ``Driver``, the deterministic discrete-event loop around ``Acd.feed`` / ``Acd.next_deadline``.
- ``batches``: batch-means confidence intervals, to compare a run with queueing theory.
- ``command``: ``switchboard simulate inbound``.

See ``docs/simulator.md``.
"""
