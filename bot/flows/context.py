"""What a flow works with while it handles one event: the transaction, the person, and replies.

Replies are not sent here: they are written to the outbox in the same transaction as the state
change that caused them, and the channel's sender delivers them after commit.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from bot.core import company_settings
from bot.core.company_settings import DEFAULT_TIMEZONE, CompanySettings
from bot.core.conversation import ConversationState
from bot.core.events import Incoming, StoredFile
from bot.core.messages import Button, Outgoing, Photo, album
from bot.core.texts import render
from bot.flows import notify
from bot.flows.catalog import StandardsCatalog
from storage.db import Tx
from storage.records import (
    Channel,
    EvidenceKind,
    EvidenceRole,
    OutboxKind,
    Person,
    Site,
    StoredStandard,
)

Keyboard = Sequence[Sequence[Button]]


@dataclass(frozen=True)
class FlowSettings:
    """The deployment's settings the flows use (from the environment); the company's own are
    read from the database through `settings_at`."""

    timezone: str = DEFAULT_TIMEZONE
    max_upload_mb: int = 20


@dataclass
class FlowContext:
    tx: Tx
    event: Incoming
    person: Person
    catalog: StandardsCatalog
    settings: FlowSettings
    now: datetime
    state: ConversationState
    standards_cache: dict[int, StoredStandard] = field(default_factory=dict)
    company: dict[str, Any] | None = None
    """The company's stored settings, read once per event (`settings_at`)."""

    async def stored_standard(self, standard_id: int) -> StoredStandard | None:
        """Stored standard versions never change, so they are read once per process."""
        stored = self.standards_cache.get(standard_id)
        if stored is None:
            stored = await self.tx.standards.get(standard_id)
            if stored is not None:
                self.standards_cache[standard_id] = stored
        return stored

    async def settings_at(self, site: Site | None) -> CompanySettings:
        """The company's settings in force at a site (company-wide without one)."""
        if self.company is None:
            self.company = await self.tx.settings.all()
        return company_settings.resolve(self.company, site, timezone=self.settings.timezone).values

    async def add_photo(
        self,
        file: StoredFile,
        role: EvidenceRole,
        *,
        caption: str | None = None,
        inspection_id: int | None = None,
        item_no: int | None = None,
        task_id: int | None = None,
    ) -> None:
        """Keep a photo this event brought (already in the evidence store) as evidence of
        `role` on an inspection item or a task, with what the photo says of itself."""
        assert file.sha256 is not None
        await self.tx.evidence.add(
            file.sha256,
            file.size,
            mime=file.mime,
            kind=EvidenceKind.PHOTO,
            role=role,
            channel=self.channel,
            channel_file_ref=file.channel_ref,
            caption=caption,
            created_by=self.person.id,
            inspection_id=inspection_id,
            item_no=item_no,
            task_id=task_id,
            taken_at=file.taken_at,
            phash=file.phash,
            position=file.position,
        )

    @property
    def channel(self) -> Channel:
        return self.event.channel

    def today(self, timezone: str | None = None) -> date:
        return self.now.astimezone(ZoneInfo(timezone or self.settings.timezone)).date()

    def next_screen(self) -> int:
        """A new screen makes the buttons of every earlier screen stale."""
        return self.state.next_screen()

    @property
    def screen(self) -> int:
        return self.state.screen

    def _enqueue(self, message: Outgoing, chat_id: str, channel: Channel) -> None:
        self.tx.outbox.add(
            channel=channel,
            chat_id=chat_id,
            person_id=self.person.id,
            kind=message.kind,
            payload=message.to_payload(),
            ref=message.ref,
            edit_of_ref=message.edit_ref,
        )

    async def reply(
        self, template: str, /, buttons: Keyboard = (), ref: str | None = None, **values: Any
    ) -> None:
        text = render(template, **values)
        rows = tuple(tuple(row) for row in buttons)
        message = Outgoing(kind=OutboxKind.SEND, text=text, buttons=rows, ref=ref)
        self._enqueue(message, self.event.chat_id, self.channel)

    async def reply_photos(self, photos: Sequence[Photo], caption: str = "") -> None:
        """Evidence photos to this chat, as one album (with a rendered caption)."""
        self._enqueue(album(caption, photos), self.event.chat_id, self.channel)

    async def edit(self, ref: str, template: str, buttons: Keyboard = (), **values: Any) -> None:
        text = render(template, **values)
        rows = tuple(tuple(row) for row in buttons)
        message = Outgoing(kind=OutboxKind.EDIT, text=text, buttons=rows, edit_ref=ref)
        self._enqueue(message, self.event.chat_id, self.channel)

    async def toast(self, template: str = "", alert: bool = False, **values: Any) -> None:
        """Answer the pressed button (Telegram's answerCallbackQuery); no-op elsewhere."""
        if not self.event.callback_id:
            return
        text = render(template, **values) if template else ""
        message = Outgoing(
            kind=OutboxKind.ANSWER_CALLBACK,
            text=text,
            callback_id=self.event.callback_id,
            alert=alert,
        )
        self._enqueue(message, self.event.chat_id, self.channel)

    async def notify(
        self,
        person_id: int,
        template: str,
        buttons: Keyboard = (),
        photos: Sequence[Photo] = (),
        albums: Sequence[notify.Album] = (),
        **values: Any,
    ) -> int:
        """Send to every chat the person is bound to; returns how many chats got it."""
        return await notify.to_person(
            self.tx, person_id, template, buttons, photos, albums, **values
        )
