"""WeCom (企业微信) adapter: callbacks in as Incoming events, outbox messages out through the API.

Receiving: ``/wecom/callback`` (see ``callback.py``) acknowledges at once; each message is then
translated and handled in the background, one member's messages strictly in order. Kinds:

* text → command (``/inspect``), a numbered option (digits answering the newest message whose
  buttons were numbered) or text; image → photo (downloaded with media/get into the evidence
  store); file → document (downloaded only when its name says image);
* ``template_card_event`` → button press with ``payload = EventKey``;
* ``subscribe`` → ``/start`` (welcome), ``enter_agent`` → ``/help``; a ``click`` on the app's
  menu whose key is a command's name (``inspect``, ``tasks``, …) → that command;
* other member messages and menu events → ``other`` (a polite "not supported"); system events
  (contact changes, location reports, unsubscribe …) are ignored.

Idempotency keys: ``m<MsgId>`` for messages; ``c:<TaskId>:<EventKey>:<CreateTime>`` for card
presses (a redelivered callback repeats all three; a press of a button that an in-place update
brought back is a new press); ``e:<user>:<CreateTime>:<Event>`` for events. A redelivery is
recognised before any download and changes nothing (``bot.handlers.gate``).

Sending: see ``render.py`` for the layout and ``cards.py`` for in-place edits. Sends to each
member are paced (``pacing.py``): a message that does not fit the member's 30 per minute is
handed back to the outbox with ``retry_after`` and goes out as soon as it fits.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import logging
import mimetypes
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from aiohttp import web

from bot.core.events import Channel, EventKind, Incoming, StoredFile
from bot.core.pixels import photo_facts, too_many_pixels
from bot.core.unicode import well_formed
from bot.delivery import Delivery, DeliveryError, NotReady, outgoing
from bot.flows import commands
from bot.flows.router import FlowEngine
from bot.handlers.gate import Arrival, Gate
from bot.handlers.wecom import render as layout
from bot.handlers.wecom.api import MediaTooLarge, WeComAPI, WeComAPIError
from bot.handlers.wecom.callback import CallbackEndpoint
from bot.handlers.wecom.cards import CARD, MAX_ID_CHARS, MESSAGE, NUMBERED, CardBook, SentCards
from bot.handlers.wecom.crypto import WeComCrypto
from bot.handlers.wecom.pacing import MemberPacer, member_locks
from bot.handlers.wecom.xmlmsg import WeComIncoming
from storage.db import Database
from storage.errors import EvidenceMissing, EvidenceTooLarge
from storage.evidence import EvidenceStore
from storage.records import OutboxKind

log = logging.getLogger(__name__)

# Events a member causes by tapping something: answered with "not supported".
MEMBER_EVENTS = frozenset(
    {
        "click",
        "scancode_push",
        "scancode_waitmsg",
        "pic_sysphoto",
        "pic_photo_or_album",
        "pic_weixin",
        "location_select",
        "template_card_menu_event",
    }
)
EVENT_COMMANDS = {"subscribe": "start", "enter_agent": "help"}
MAX_KEY_CHARS = 190  # processed_events.key holds 200 with the "wecom:" prefix
MAX_IMAGE_UPLOAD = 10 * 1024 * 1024
# A member another process is sending to is tried again this much later.
OTHER_OWNER_SECONDS = 3.0
UPLOAD_TTL_SECONDS = 2.5 * 24 * 3600  # temporary media live 3 days
_IMAGE_MAGIC = {b"\xff\xd8\xff": ("image/jpeg", "jpg"), b"\x89PNG": ("image/png", "png")}


def _bounded_key(key: str) -> str:
    if len(key) <= MAX_KEY_CHARS:
        return key
    return f"h:{hashlib.sha256(key.encode()).hexdigest()}"


def _typed_number(text: str) -> int | None:
    stripped = text.strip()
    if stripped.isdigit() and len(stripped) <= 3:
        return int(stripped)
    return None


@dataclass
class _Progress:
    """What part of one outbox message already went out (a retry resumes after it)."""

    sends: int = 0
    task_ids: list[str] = field(default_factory=list)
    codes: list[str | None] = field(default_factory=list)
    last_msgid: str = ""


class WeComChannel:
    name = Channel.WECOM
    independent: frozenset[OutboxKind] = frozenset()

    def __init__(
        self,
        *,
        corp_id: str,
        agent_id: int,
        secret: str,
        token: str,
        aes_key: str,
        api_url: str,
        engine: FlowEngine,
        db: Database,
        files: EvidenceStore,
        clock: Callable[[], float] = time.time,
        pacer: MemberPacer | None = None,
    ) -> None:
        self.engine = engine
        self.db = db
        self.files = files
        self.api = WeComAPI(api_url, corp_id, secret, agent_id)
        self.pacer = pacer or MemberPacer(owners=member_locks(db.url))
        self.cards = CardBook(clock=clock)
        self.endpoint = CallbackEndpoint(
            WeComCrypto(token, aes_key, corp_id), agent_id, self._accept, clock
        )
        self._clock = clock
        self._accepting = False
        self.gate = Gate(Channel.WECOM, engine, db)
        self._progress: dict[int, _Progress] = {}
        self._uploads: dict[str, tuple[str, float]] = {}

    # -- lifecycle --------------------------------------------------------------------------

    def routes(self, app: web.Application) -> None:
        """Add GET and POST /wecom/callback to the bot's HTTP server."""
        self.endpoint.routes(app)

    async def start(self) -> None:
        await self.api.start()
        self._accepting = True
        log.info("wecom: callback at /wecom/callback, API %s", self.api.base_url)

    async def stop(self) -> None:
        """Stop taking callbacks (WeCom redelivers them later) and finish the ones in hand."""
        self._accepting = False
        await self.drain()

    async def close(self) -> None:
        """Close the API client; call after the outbox worker has stopped."""
        await self.api.close()
        if self.pacer.owners is not None:
            await self.pacer.owners.close()

    async def drain(self) -> None:
        """Wait until every accepted callback has been handled."""
        await self.gate.drain()

    # -- receiving --------------------------------------------------------------------------

    def _accept(self, message: WeComIncoming) -> bool:
        if not self._accepting:
            return False
        self.gate.submit(message.from_user, lambda: self._process(message))
        return True

    async def _process(self, message: WeComIncoming) -> None:
        arrival = await self.translate(message)
        if arrival is not None:
            await self.gate.handle(arrival)

    @staticmethod
    def event_key(message: WeComIncoming) -> str:
        if message.msg_type == "event":
            if message.event == "template_card_event":
                key = f"c:{message.task_id}:{message.event_key}:{message.create_time}"
            else:
                key = f"e:{message.from_user}:{message.create_time}:{message.event}"
        elif message.msg_id:
            key = f"m{message.msg_id}"
        else:
            key = f"m:{message.from_user}:{message.create_time}:{message.msg_type}"
        return _bounded_key(key)

    async def translate(self, message: WeComIncoming) -> Arrival | None:
        """The arrival for a callback; None for an ignored event or unreadable text."""
        key = self.event_key(message)
        user = message.from_user
        base: dict[str, Any] = {
            "channel": Channel.WECOM,
            "user_id": user,
            "chat_id": user,
            "key": key,
        }
        kind = message.msg_type
        if kind == "text":
            text = message.content or ""
            if not well_formed(text):
                log.info("wecom: text with ill-formed characters from %s refused", user)
                await self.engine.tell(Channel.WECOM, user, "text_invalid")
                return None
            event = Incoming(kind=EventKind.TEXT, text=text, **base)
            if _typed_number(text) is not None:
                return Arrival(event, fetch=self._option)
            return Arrival(event)
        if kind in ("image", "file"):
            return self._file(message, base)
        if kind == "event":
            event_or_none = self._event(message, base)
            return Arrival(event_or_none) if event_or_none is not None else None
        return Arrival(Incoming(kind=EventKind.OTHER, **base))

    async def _option(self, event: Incoming) -> Incoming:
        """A typed number that picks one of the numbered options the chat was shown."""
        number = _typed_number(event.text)
        options = await self._numbered_options(event.chat_id)
        if number is None or not 1 <= number <= len(options):
            return event
        return replace(
            event, kind=EventKind.BUTTON, payload=options[number - 1], callback_id=event.key
        )

    def _event(self, message: WeComIncoming, base: dict[str, Any]) -> Incoming | None:
        event = message.event or ""
        if event == "template_card_event":
            if message.task_id and message.response_code:
                self.cards.add_code(message.task_id, message.response_code)
            return Incoming(
                kind=EventKind.BUTTON,
                payload=message.event_key or "",
                callback_id=base["key"],
                **base,
            )
        if event in EVENT_COMMANDS:
            return Incoming(kind=EventKind.COMMAND, command=EVENT_COMMANDS[event], **base)
        if event == "click" and (message.event_key or "") in commands.BY_NAME:
            return Incoming(kind=EventKind.COMMAND, command=message.event_key or "", **base)
        if event in MEMBER_EVENTS:
            return Incoming(kind=EventKind.OTHER, **base)
        log.debug("wecom: %s event ignored", event)
        return None

    async def _numbered_options(self, chat_id: str) -> list[str]:
        """Payloads of the numbered options, if the chat's newest message with buttons had
        them numbered (the outbox keeps every sent message with its payload)."""
        async with self.db.read() as tx:
            row = await tx.outbox.newest_sent_named(Channel.WECOM, chat_id, (NUMBERED, CARD))
        if row is None or not str(row.channel_message_id).startswith(NUMBERED):
            return []
        return [button.payload for line in outgoing(row).buttons for button in line]

    def _file(self, message: WeComIncoming, base: dict[str, Any]) -> Arrival:
        """An image or file; only an image is fetched (see `_stored`)."""
        media_id = message.media_id or ""
        name = message.file_name if message.msg_type == "file" else None
        if name is None:
            mime = "image/jpeg"
        else:
            mime = mimetypes.guess_type(name)[0] or "application/octet-stream"
        unfetched = StoredFile(None, 0, mime, media_id, name)
        kind = EventKind.PHOTO if message.msg_type == "image" else EventKind.DOCUMENT
        event = Incoming(kind=kind, file=unfetched, **base)
        if not mime.startswith("image/") or not media_id:
            return Arrival(event)

        async def fetch(event: Incoming) -> Incoming | None:
            stored = await self._stored(message.from_user, unfetched)
            return replace(event, file=stored) if stored is not None else None

        return Arrival(event, fetch=fetch)

    async def _stored(self, member: str, refused: StoredFile) -> StoredFile | None:
        """Download an image into the evidence store. None (after telling the member) when
        WeCom would not hand it over."""
        media_id, mime, name = refused.channel_ref, refused.mime, refused.file_name
        try:
            media = await self.api.get_media(media_id, max_bytes=self.files.max_bytes)
            if await asyncio.to_thread(too_many_pixels, io.BytesIO(media.data)):
                return replace(refused, size=len(media.data), too_many_pixels=True)
            stored = await self.files.put(media.data)
        except (MediaTooLarge, EvidenceTooLarge) as exc:
            return StoredFile(None, exc.size, mime, media_id, name, too_large=True)
        except WeComAPIError:
            await self.engine.tell(Channel.WECOM, member, "media_failed")
            return None
        if media.content_type.startswith("image/"):
            mime = media.content_type
        facts = await asyncio.to_thread(photo_facts, media.data)
        return StoredFile(
            stored.sha256,
            stored.size,
            mime,
            media_id,
            name,
            taken_at=facts.taken_at,
            phash=facts.phash,
            position=facts.position,
        )

    # -- sending ----------------------------------------------------------------------------

    async def send(self, delivery: Delivery) -> str | None:
        """Render one outbox message; returns the channel message id (see ``cards.py``)."""
        message = delivery.message
        try:
            sent = await self._send(delivery)
        except WeComAPIError as exc:
            self._forget_progress(message.id, permanent=not exc.retryable)
            raise DeliveryError(
                str(exc), permanent=not exc.retryable, retry_after=exc.retry_after
            ) from None
        except EvidenceMissing as exc:
            self._forget_progress(message.id, permanent=True)
            raise DeliveryError(f"file missing: {exc}", permanent=True) from None
        except DeliveryError:
            self._forget_progress(message.id, permanent=False)
            raise
        self._progress.pop(message.id, None)
        return sent

    def _forget_progress(self, outbox_id: int, *, permanent: bool) -> None:
        progress = self._progress.get(outbox_id)
        if progress is not None and (permanent or progress.sends == 0):
            del self._progress[outbox_id]

    async def _send(self, delivery: Delivery) -> str | None:
        message = delivery.outgoing
        text = message.text
        outbox_id, member = delivery.message.id, delivery.message.chat_id
        if message.kind is OutboxKind.ANSWER_CALLBACK:
            # WeCom has no toast: only an alert is worth a message.
            if not (message.alert and text):
                return None
            return await self._deliver(outbox_id, member, layout.rendering(text, []))
        if message.kind is OutboxKind.SEND_PHOTO:
            photos = list(message.photos)
            return await self._deliver(outbox_id, member, layout.rendering(text, []), photos)
        if message.kind is OutboxKind.SEND_DOCUMENT:
            assert message.document is not None, "a document row names its file"
            name = message.document_name or "report"
            rendered = layout.rendering(text, [])
            return await self._deliver(outbox_id, member, rendered, [message.document], name)
        rows = [[(b.text, b.payload) for b in row] for row in message.buttons]
        rendered = layout.rendering(text, rows)
        if message.kind is OutboxKind.EDIT and delivery.target_message_id is not None:
            target = self.cards.current(delivery.target_message_id)
            edited = await self._edit(member, target, text, rendered)
            if edited is not None:
                return edited
            sent = await self._deliver(outbox_id, member, rendered)
            if sent is not None:
                self.cards.replace(target, sent)
            return sent
        return await self._deliver(outbox_id, member, rendered)

    async def _deliver(
        self,
        outbox_id: int,
        member: str,
        rendered: layout.Rendering,
        attachments: list[str] | None = None,
        document_name: str | None = None,
    ) -> str | None:
        """Send attachments, texts and cards in that order, paced for the member.

        The whole message must fit the member's window before its first part goes out, so a
        paced message is never half sent; a retry after a failure resumes after what went out.
        """
        if not await self.pacer.claim(member):
            raise NotReady(OTHER_OWNER_SECONDS)
        progress = self._progress.setdefault(outbox_id, _Progress())
        files = attachments or []
        total = len(files) + rendered.sends
        wait = self.pacer.delay(member, total - progress.sends) if total > progress.sends else 0
        if wait > 0:
            raise DeliveryError(
                f"paced: 30 messages a minute to this member, next in {wait:.0f}s",
                retry_after=wait,
            )
        parts: list[str | dict[str, Any]] = [*files, *rendered.texts]
        for index, part in enumerate(parts):
            if index < progress.sends:
                continue
            body = await self._media_body(part, document_name) if isinstance(part, str) else part
            async with self.pacer.slot(member):
                result = await self.api.send(member, body)
            progress.sends += 1
            progress.last_msgid = result.msgid
        done_before_cards = len(files) + len(rendered.texts)
        for index, card in enumerate(rendered.cards):
            if done_before_cards + index < progress.sends:
                continue
            task_id = f"pj{outbox_id}-{secrets.token_hex(3)}-{index}"
            async with self.pacer.slot(member):
                result = await self.api.send(member, card.message(task_id))
            progress.sends += 1
            progress.task_ids.append(task_id)
            progress.codes.append(result.response_code)
            if result.response_code:
                self.cards.add_code(task_id, result.response_code)
            self.cards.showing(task_id, card.update(task_id))
        if progress.task_ids:
            return SentCards(tuple(progress.task_ids), tuple(progress.codes)).encode()
        if total == 0:
            return None
        prefix = NUMBERED if rendered.options else MESSAGE
        return f"{prefix}{progress.last_msgid}"[:MAX_ID_CHARS]

    async def _edit(
        self, member: str, target: str, text: str, rendered: layout.Rendering
    ) -> str | None:
        """Replace the target's cards in place; None when that is not possible (the target
        is not a card, the new content needs more cards or its own text, or a card that
        must change has no usable response code)."""
        sent = SentCards.parse(target)
        if sent is None:
            return None
        if rendered.cards or rendered.options:
            if rendered.texts or rendered.options or len(rendered.cards) > len(sent.task_ids):
                return None
            new: list[layout.Card] = list(rendered.cards)
        else:
            closed = layout.closed_face(text)
            if closed is None:
                return None
            new = [closed]
        plan: list[tuple[int, dict[str, Any], bool]] = []
        for index, task_id in enumerate(sent.task_ids):
            if index < len(new):
                update, required = new[index].update(task_id), True
            else:
                update, required = layout.closed_buttons(), False
            if self.cards.shows(task_id, update):
                continue
            if required and not self.cards.codes(sent, index):
                return None
            plan.append((index, update, required))
        for index, update, required in plan:
            if not await self._update_card(member, sent, index, update) and required:
                return None
        live = any(card.buttons for card in new)
        return sent.encode() if live else f"{MESSAGE}{target[len(CARD) :]}"[:MAX_ID_CHARS]

    async def _update_card(
        self, member: str, sent: SentCards, index: int, update: dict[str, Any]
    ) -> bool:
        task_id = sent.task_ids[index]
        for code in self.cards.codes(sent, index):
            self.cards.use(task_id, code)
            try:
                await self.api.update_template_card(member, code, update)
            except WeComAPIError as exc:
                if exc.retryable:
                    raise
                continue  # used, expired or refused: try the next code
            self.cards.showing(task_id, update)
            return True
        return False

    async def _media_body(self, sha256: str, document_name: str | None) -> dict[str, Any]:
        """Upload a stored file (once per 2.5 days) and return the image or file message."""
        data = await self.files.get(sha256)
        magic = next((v for k, v in _IMAGE_MAGIC.items() if data.startswith(k)), None)
        as_image = document_name is None and magic is not None and len(data) <= MAX_IMAGE_UPLOAD
        kind = "image" if as_image else "file"
        if as_image and magic is not None:
            content_type, filename = magic[0], f"{sha256[:12]}.{magic[1]}"
        else:
            filename = document_name or f"{sha256[:12]}.bin"
            content_type = mimetypes.guess_type(filename)[0] or "application/octet-stream"
        cache_key = f"{kind}:{sha256}:{filename}"
        cached = self._uploads.get(cache_key)
        if cached is not None and cached[1] > self._clock():
            media_id = cached[0]
        else:
            media_id = await self.api.upload_media(kind, data, filename, content_type)
            now = self._clock()
            self._uploads = {k: v for k, v in self._uploads.items() if v[1] > now}
            self._uploads[cache_key] = (media_id, now + UPLOAD_TTL_SECONDS)
        return {"msgtype": kind, kind: {"media_id": media_id}}
