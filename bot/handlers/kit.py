"""What the bot process needs of a channel adapter: `bot.app` holds every channel as a
`Channel` and mypy checks each adapter class against it."""

from __future__ import annotations

from typing import Protocol

from aiohttp import web

from bot.core import events
from bot.delivery import Delivery
from storage.records import OutboxKind


class Channel(Protocol):
    @property
    def name(self) -> events.Channel:
        """The outbox channel whose rows this adapter sends."""
        ...

    @property
    def independent(self) -> frozenset[OutboxKind]:
        """Row kinds its outbox worker sends alongside a chat's other rows."""
        ...

    async def start(self) -> None:
        """Start receiving (and open what sending needs)."""

    def routes(self, app: web.Application) -> None:
        """Add its HTTP endpoints, if it has any, to the bot's server."""

    async def stop(self) -> None:
        """Stop receiving and finish what is in hand; sending still works."""

    async def close(self) -> None:
        """Release its clients; called once its outbox worker has stopped."""

    async def send(self, delivery: Delivery) -> str | None:
        """Send one outbox row; the channel's message id (kept for later edits)."""
