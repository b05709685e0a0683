"""``ComplianceGate``: the dialer's one way to ask the compliance rules, with every answer audited.

``check(request)`` asks every rule through ``PluginManager.check_compliance`` (any refusal wins, a faulty rule
refuses) and writes the decision, allowed or not, with its rule and reason, to the store's compliance audit
(``record_compliance``) before returning it: the answer is never acted on unaudited. It is the ``checker`` of
``engine.sim.carrier.SimulatedCarrier`` and what a channel runtime calls for ``CheckCompliance`` actions.
"""

from __future__ import annotations

from typing import Any

from engine.dialer_events import CheckCompliance
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


class ComplianceSink:
    """The runtime's answer to the dialer's ``CheckCompliance`` actions: each is asked of ``gate`` (a
    ``ComplianceGate``) in a worker thread (the rules and the audit may touch the database) and the verdict is
    submitted back as a ``ComplianceVerdict`` event, so the decision is journaled before the dialer acts on it.

    An async sink: the runtime gives it its own task and buffer, so a slow rule never holds routing up; questions
    are answered in the order asked. A verdict the dialer no longer wants (the call ended meanwhile) is refused by
    the engine and counted in ``stale``. ``resume(center)`` asks again the questions lost with a previous process.
    """

    accepts = (CheckCompliance,)  # the runtime offers it only these

    def __init__(self, runtime: Any, gate: ComplianceGate) -> None:
        self.runtime = runtime
        self.gate = gate
        self.answered = 0
        self.stale = 0

    async def handle(self, action: Any, now: float) -> None:
        if isinstance(action, CheckCompliance):
            await self.ask(action)

    async def ask(self, action: Any) -> None:
        import trio

        from engine.dialer_events import ComplianceVerdict
        from engine.errors import AcdError

        verdict = await trio.to_thread.run_sync(self.gate.check, action.request)
        try:
            await self.runtime.submit(ComplianceVerdict(action.call_id, bool(verdict.allowed), verdict.reason,
                                                        verdict.rule))
            self.answered += 1
        except AcdError:
            self.stale += 1

    async def resume(self, center: Any) -> None:
        """Ask again what ``center``'s dialer still waits for (``Dialer.pending_checks``)."""
        dialer = getattr(center, "dialer", None)
        if dialer is None:
            return
        for action in dialer.pending_checks(self.runtime.now()):
            await self.ask(action)
