"""``ComplianceGate``: the dialer's one way to ask the compliance rules, with every answer audited.

``check(request)`` asks every rule through ``PluginManager.check_compliance`` (any refusal wins, a faulty rule
refuses) and writes the decision, allowed or not, with its rule and reason, to the store's compliance audit
(``record_compliance``) before returning it: the answer is never acted on unaudited. It is the ``checker`` of
``engine.sim.carrier.SimulatedCarrier`` and what a channel runtime calls for ``CheckCompliance`` actions.
"""

from __future__ import annotations

from typing import Any

from plugins.hookspecs import Verdict
from plugins.manager import PluginManager


class ComplianceGate:
    """Ask ``manager``'s rules and audit the answer in ``store`` (a ``Store``; ``None``: audit kept in memory)."""

    def __init__(self, manager: PluginManager, store: Any = None) -> None:
        self.manager = manager
        self.store = getattr(store, "sync", store)
        self.audit: list[dict[str, Any]] = []

    def check(self, request: dict[str, Any]) -> Verdict:
        verdict = self.manager.check_compliance(request)
        lead = request.get("lead") or {}
        row = {"at": float(request.get("now") or 0.0), "number": str(request.get("number", "")),
               "campaign": str(request.get("campaign") or ""), "lead": str(lead.get("id", "")),
               "allowed": verdict.allowed, "rule": verdict.rule, "reason": verdict.reason}
        if self.store is not None:
            self.store.record_compliance(**row)
        else:
            self.audit.append(row)
        return verdict

    __call__ = check
