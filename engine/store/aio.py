"""``AsyncStore``: a blocking ``Store`` for trio code, each call in a worker thread, one call at a time.

Calls are not abandoned on cancellation: a cancelled caller waits for the call in flight to finish (a write is
never left half-known), then sees ``trio.Cancelled``. Use it from one trio run; the wrapped store (``sync``) can
still be handed to code running in threads (plugin hooks), since the store serialises its callers itself.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import trio

from engine.store.base import Customer, Interaction, Store, Ticket

T = TypeVar("T")


class AsyncStore:
    """``await store.history(...)`` etc.: the same methods, arguments and errors as ``Store``."""

    def __init__(self, store: Store) -> None:
        self.sync = store
        self._lock = trio.Lock()

    async def _run(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        async with self._lock:
            return await trio.to_thread.run_sync(lambda: fn(*args, **kwargs))

    async def close(self) -> None:
        await self._run(self.sync.close)

    async def find_customer(self, kind: str, value: str) -> Customer | None:
        return await self._run(self.sync.find_customer, kind, value)

    async def customer(self, customer_id: int) -> Customer:
        return await self._run(self.sync.customer, customer_id)

    async def find_or_create_customer(self, kind: str, value: str, name: str = "",
                                      attributes: dict[str, Any] | None = None) -> Customer:
        return await self._run(self.sync.find_or_create_customer, kind, value, name, attributes)

    async def link_identity(self, customer_id: int, kind: str, value: str) -> Customer:
        return await self._run(self.sync.link_identity, customer_id, kind, value)

    async def update_customer(self, customer_id: int, *, name: str | None = None,
                              attributes: dict[str, Any] | None = None) -> Customer:
        return await self._run(self.sync.update_customer, customer_id, name=name, attributes=attributes)

    async def record_interaction(self, interaction: Interaction) -> Interaction:
        return await self._run(self.sync.record_interaction, interaction)

    async def history(self, customer_id: int, limit: int = 50) -> list[Interaction]:
        return await self._run(self.sync.history, customer_id, limit)

    async def create_ticket(self, customer_id: int | None, department: str, subject: str, **kwargs: Any) -> Ticket:
        return await self._run(self.sync.create_ticket, customer_id, department, subject, **kwargs)

    async def update_ticket(self, reference: str, **kwargs: Any) -> Ticket:
        return await self._run(self.sync.update_ticket, reference, **kwargs)

    async def find_ticket(self, reference: str) -> Ticket | None:
        return await self._run(self.sync.find_ticket, reference)

    async def ticket(self, reference: str) -> Ticket:
        return await self._run(self.sync.ticket, reference)

    async def open_tickets(self, customer_id: int) -> list[Ticket]:
        return await self._run(self.sync.open_tickets, customer_id)
