"""Batch means: a simulation's own confidence intervals, for comparing it with queueing theory.

Successive waits in a queue are strongly correlated, so the spread of individual contacts says nothing about the
error of a long-run average. The method of batch means cuts the run after the warm-up into ``batches`` equal spans
of arrival time; with spans much longer than the queue's relaxation time the batch figures are nearly independent,
and their spread gives the standard error. A figure that is a ratio (``p_wait`` = waited / offered,
``asa_s`` = total wait / answered) is estimated on the pooled run, sum(y) / sum(x), with the delta-method standard
error ``sqrt(sum((y_i - R x_i)**2) / (k (k - 1))) / mean(x)``.

Definitions are those of ``engine.stats`` (a contact counts in the batch it arrived in; ``service_level_20s`` is over
all offered contacts). ``BatchMeans`` observes the same ACD actions as ``engine.stats.Stats``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from engine.events import AgentStateChanged, ContactRecord, ContactStateChanged
from engine.stats import BUSY_STATES, IDLE_STATES

FIGURES: tuple[str, ...] = ("p_wait", "service_level_20s", "asa_s", "p_abandon", "occupancy")


@dataclass(frozen=True, slots=True)
class Estimate:
    """A pooled estimate, its batch-means standard error, and the batch count it came from."""

    value: float
    se: float
    batches: int

    def agrees(self, theory: float, z: float = 4.0, eps: float = 0.0) -> bool:
        """|value - theory| <= z * se + eps."""
        return abs(self.value - theory) <= z * self.se + eps


class BatchMeans:
    """Observer collecting per-batch sums over arrivals in ``[warmup, warmup + batches * batch_s)``."""

    def __init__(self, warmup: float, batch_s: float, batches: int, threshold_s: float = 20.0) -> None:
        if batches < 2 or batch_s <= 0:
            raise ValueError("need at least 2 batches of positive length")
        self.warmup = warmup
        self.batch_s = batch_s
        self.k = batches
        self.end = warmup + batch_s * batches
        self.threshold = threshold_s
        zeros = [0.0] * batches
        self.offered = list(zeros)
        self.waited = list(zeros)
        self.within = list(zeros)
        self.answered = list(zeros)
        self.wait_sum = list(zeros)
        self.abandoned = list(zeros)
        self.busy = list(zeros)
        self.idle = list(zeros)
        self._contacts: dict[str, tuple[int, float, list[bool]]] = {}
        self._agents: dict[str, tuple[str, float]] = {}

    def __call__(self, action: Any) -> None:
        kind = type(action)
        if kind is ContactStateChanged:
            self._contact(action)
        elif kind is AgentStateChanged:
            self._agent(action)
        elif kind is ContactRecord:
            self._contacts.pop(action.contact_id, None)

    def handler_for(self, kind: type) -> Any:
        if kind is ContactStateChanged:
            return self._contact
        if kind is AgentStateChanged:
            return self._agent
        if kind is ContactRecord:
            return self._forget
        return None

    def _forget(self, a: ContactRecord) -> None:
        self._contacts.pop(a.contact_id, None)

    def _contact(self, a: ContactStateChanged) -> None:
        entry = self._contacts.get(a.contact_id)
        if entry is None:
            at = a.at
            b = int((at - self.warmup) // self.batch_s) if self.warmup <= at < self.end else -1
            entry = self._contacts[a.contact_id] = (b, at, [False])
            if b >= 0:
                self.offered[b] += 1
        b, arrived, answered = entry
        if b < 0:
            return
        state = a.state
        if state == "connected" and not answered[0]:
            answered[0] = True
            wait = a.at - arrived
            self.answered[b] += 1
            self.wait_sum[b] += wait
            if wait > 0:
                self.waited[b] += 1
            if wait <= self.threshold:
                self.within[b] += 1
        elif state == "abandoned" or state in ("closed", "rejected", "max-wait"):
            if state == "abandoned":
                self.abandoned[b] += 1
            if a.at > arrived and not answered[0]:
                self.waited[b] += 1

    def _agent(self, a: AgentStateChanged) -> None:
        previous = self._agents.get(a.agent_id)
        self._agents[a.agent_id] = (a.state, a.at)
        if previous is None:
            return
        state, since = previous
        target = self.busy if state in BUSY_STATES else self.idle if state in IDLE_STATES else None
        if target is None:
            return
        start, end = max(since, self.warmup), min(a.at, self.end)
        while start < end:
            b = min(int((start - self.warmup) // self.batch_s), self.k - 1)
            edge = min(end, self.warmup + (b + 1) * self.batch_s)
            target[b] += edge - start
            start = edge

    def finish(self, now: float) -> None:
        """Close the agents' open intervals at ``now`` (call once, after the run)."""
        for agent, (_state, since) in list(self._agents.items()):
            self._agent(AgentStateChanged(agent, "logged-out", "", max(now, since)))

    @staticmethod
    def _ratio(y: list[float], x: list[float]) -> Estimate:
        k = len(x)
        sx, sy = sum(x), sum(y)
        if sx == 0:
            return Estimate(math.nan, math.inf, k)
        r = sy / sx
        var = sum((yi - r * xi) ** 2 for xi, yi in zip(x, y, strict=True)) / (k * (k - 1))
        return Estimate(r, math.sqrt(var) / (sx / k), k)

    def estimates(self) -> dict[str, Estimate]:
        occupied = [b + i for b, i in zip(self.busy, self.idle, strict=True)]
        return {
            "p_wait": self._ratio(self.waited, self.offered),
            "service_level_20s": self._ratio(self.within, self.offered),
            "asa_s": self._ratio(self.wait_sum, self.answered),
            "p_abandon": self._ratio(self.abandoned, self.offered),
            "occupancy": self._ratio(self.busy, occupied),
        }
