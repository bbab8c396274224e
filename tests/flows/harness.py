"""A channel-neutral chat harness: drives FlowEngine with Incoming events and shows what each
chat would display, by running the real outbox worker with a recording sender."""

from __future__ import annotations

import hashlib
import io
import itertools
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bot.core.events import EventKind, Incoming, StoredFile
from bot.core.pixels import capture_time, gps_position, perceptual_hash
from bot.delivery import Delivery, DeliveryError, OutboxWorker
from bot.flows.catalog import StandardsCatalog
from bot.flows.context import FlowSettings
from bot.flows.router import FlowEngine
from bot.reports import renditions
from storage.db import Database
from storage.evidence import FileEvidenceStore
from storage.migrate import upgrade
from storage.records import Channel, OutboxKind, OutboxMessage, Role
from tests import seeding
from tests.scratch_db import sqlite_url


class Clock:
    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@dataclass
class ChatMessage:
    id: int
    text: str
    buttons: list[list[tuple[str, str]]]
    photos: list[str] = field(default_factory=list)
    edits: int = 0

    def button(self, label: str) -> str:
        """The payload of the first button whose text contains `label`."""
        for row in self.buttons:
            for text, data in row:
                if label in text:
                    return data
        raise AssertionError(f"no button {label!r} in {self.buttons!r}\n{self.text}")

    @property
    def labels(self) -> list[str]:
        return [text for row in self.buttons for text, _ in row]


@dataclass
class Chat:
    messages: list[ChatMessage] = field(default_factory=list)
    toasts: list[tuple[str, bool]] = field(default_factory=list)

    @property
    def last(self) -> ChatMessage:
        return self.messages[-1]

    def with_buttons(self) -> ChatMessage:
        return next(m for m in reversed(self.messages) if m.buttons)

    def texts(self) -> list[str]:
        return [m.text for m in self.messages]


class Harness:
    def __init__(
        self, tmp: Path, settings: FlowSettings | None = None, *, url: str | None = None
    ) -> None:
        self.tmp = tmp
        self.clock = Clock(datetime(2026, 11, 2, 2, 0, tzinfo=UTC))
        self.files = FileEvidenceStore(tmp / "evidence", max_bytes=20 * 1_048_576)
        self.url = url or sqlite_url(tmp)
        self.db = Database(self.url, clock=self.clock, files=self.files)
        self.settings = settings or FlowSettings()
        self.chats: dict[tuple[Channel, str], Chat] = {}
        self._ids = itertools.count(1)
        self._keys = itertools.count(1)

    async def start(self) -> None:
        await upgrade(self.url)
        await self.db.open()
        self.engine = FlowEngine(self.db, StandardsCatalog.load(None), self.settings, self.clock)
        self.start_workers()

    def start_workers(self) -> None:
        """The outbox workers; their `prepare` hook makes watermarked photos, and gives up a
        report file at once (the flows' tests render no reports)."""

        async def prepare(message: OutboxMessage) -> dict[str, Any]:
            stamped = await renditions.prepare(self.files, message.payload)
            if stamped is None:
                raise DeliveryError("no report renderer in the harness", permanent=True)
            return stamped

        self.worker = OutboxWorker(
            self.db, Channel.TELEGRAM, self._record, clock=self.clock, prepare=prepare
        )
        self.web_worker = OutboxWorker(
            self.db, Channel.WEB, self._record, clock=self.clock, prepare=prepare
        )

    async def close(self) -> None:
        await self.db.close()

    def chat(self, chat_id: str | int, channel: Channel = Channel.TELEGRAM) -> Chat:
        return self.chats.setdefault((channel, str(chat_id)), Chat())

    async def _record(self, delivery: Delivery) -> str | None:
        message = delivery.message
        chat = self.chat(message.chat_id, message.channel)
        payload: dict[str, Any] = message.payload
        buttons = [[(t, p) for t, p in row] for row in payload.get("buttons", [])]
        if message.kind is OutboxKind.ANSWER_CALLBACK:
            chat.toasts.append((payload.get("text", ""), bool(payload.get("alert"))))
            return None
        if message.kind is OutboxKind.EDIT and delivery.target_message_id is not None:
            target = next(m for m in chat.messages if str(m.id) == delivery.target_message_id)
            target.text, target.buttons = payload["text"], buttons
            target.edits += 1
            return delivery.target_message_id
        new = ChatMessage(
            next(self._ids), payload.get("text", ""), buttons, list(payload.get("photos", []))
        )
        chat.messages.append(new)
        return str(new.id)

    async def flush(self) -> None:
        while await self.worker.run_once() or await self.web_worker.run_once():
            pass

    async def send(self, event: Incoming, *, flush: bool = True) -> bool:
        handled = await self.engine.handle(event)
        if flush:
            await self.flush()
        return handled

    def user(self, user_id: int, channel: Channel = Channel.TELEGRAM) -> User:
        return User(self, str(user_id), channel)

    async def seed(self) -> dict[str, Any]:
        """A site with an inspector, two responsible staff and a manager."""
        async with self.db.transaction() as tx:
            site = await tx.sites.create("阳光花园", timezone="Asia/Shanghai")
            other = await tx.sites.create("翠湖苑", timezone="Asia/Shanghai")
            people = await seeding.staff(tx, site)
            outsider = await tx.people.create("钱其他")
            await tx.roles.grant(outsider.id, other.id, Role.INSPECTOR)
            people["钱其他"] = outsider
            codes = await seeding.invites(tx, people, days=7, prefix="code-")
        return {"site": site, "other": other, "people": people, "codes": codes}


class User:
    def __init__(self, harness: Harness, user_id: str, channel: Channel) -> None:
        self.h = harness
        self.user_id = user_id
        self.channel = channel

    @property
    def chat(self) -> Chat:
        return self.h.chat(self.user_id, self.channel)

    def _event(self, kind: EventKind, key: str | None = None, **values: Any) -> Incoming:
        return Incoming(
            channel=self.channel,
            user_id=self.user_id,
            chat_id=self.user_id,
            key=key or f"k{next(self.h._keys)}",
            kind=kind,
            display_name=f"user{self.user_id}",
            **values,
        )

    async def command(self, command: str, args: str = "", key: str | None = None) -> Incoming:
        event = self._event(EventKind.COMMAND, key, command=command, args=args)
        await self.h.send(event)
        return event

    async def text(self, text: str) -> Incoming:
        event = self._event(EventKind.TEXT, text=text)
        await self.h.send(event)
        return event

    async def press(self, payload: str, key: str | None = None) -> Incoming:
        event = self._event(
            EventKind.BUTTON, key, payload=payload, callback_id=f"cb{next(self.h._keys)}"
        )
        await self.h.send(event)
        return event

    async def tap(self, label: str) -> Incoming:
        """Press the button labelled `label` on the newest message that has buttons."""
        return await self.press(self.chat.with_buttons().button(label))

    async def photo(self, data: bytes, caption: str = "") -> Incoming:
        stored = await self.h.files.put(data)
        file = StoredFile(
            stored.sha256,
            stored.size,
            "image/jpeg",
            f"file-{stored.sha256[:8]}",
            taken_at=capture_time(io.BytesIO(data)),
            phash=perceptual_hash(io.BytesIO(data)),
            position=gps_position(io.BytesIO(data)),
        )
        event = self._event(EventKind.PHOTO, text=caption, file=file)
        await self.h.send(event)
        return event

    async def document(self, data: bytes, name: str, mime: str) -> Incoming:
        digest = hashlib.sha256(data).hexdigest()
        file = StoredFile(None, len(data), mime, f"doc-{digest[:8]}", file_name=name)
        event = self._event(EventKind.DOCUMENT, file=file)
        await self.h.send(event)
        return event

    async def other(self) -> Incoming:
        event = self._event(EventKind.OTHER)
        await self.h.send(event)
        return event
