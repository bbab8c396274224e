"""Telegram adapter (python-telegram-bot 22): translates updates into Incoming events for the
flows and renders outbox messages with the Bot API. Nothing else in the bot imports telegram."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import io
import logging
import warnings
from dataclasses import replace
from typing import Any

from aiohttp import web
from telegram import InputMediaPhoto
from telegram.constants import ParseMode
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TimedOut
from telegram.ext import AIORateLimiter, Application, ApplicationBuilder
from telegram.warnings import PTBUserWarning

from bot.core.events import Channel, EventKind, Incoming, StoredFile
from bot.core.messages import Button
from bot.core.pixels import photo_facts, too_many_pixels
from bot.core.texts import render
from bot.core.unicode import well_formed_json
from bot.delivery import Delivery, DeliveryError
from bot.flows import group_posts
from bot.flows.group_binding import GROUP_COMMANDS
from bot.flows.router import FlowEngine
from bot.handlers.gate import Arrival, Gate, parse_command
from bot.handlers.json_body import BadJSON, TooLarge, loads, read_body
from bot.handlers.telegram_http import AiohttpRequest
from bot.handlers.telegram_menus import ChatMenus
from bot.handlers.telegram_split import MAX_TEXT, first_piece, split_text
from bot.handlers.telegram_update import (
    TelegramFile,
    TelegramUpdate,
    Unreadable,
    parse,
    update_key,
)
from storage.coordination import Leadership
from storage.db import Database
from storage.errors import EvidenceTooLarge
from storage.evidence import EvidenceStore
from storage.records import OutboxKind

log = logging.getLogger(__name__)

# Telegram allows about 30 messages a second overall; sends are spaced evenly a little below
# that (no bursts), and a 429 is retried by the rate limiter after the time Telegram asks for.
OVERALL_PER_SECOND = 28
# TelegramChannel._call uses do_api_request for methods the library also wraps, on purpose.
warnings.filterwarnings(
    "ignore",
    r"Please use 'Bot\.(send_message|edit_message_text|answer_callback_query|get_updates)'",
    PTBUserWarning,
)
ALLOWED_UPDATES = ("message", "callback_query")
POLL_READ_MARGIN = 10.0
MAX_POLL_PAUSE = 30.0
# Polling pauses while this many fetched updates wait to be handled.
MAX_IN_HAND = 1000
# Fetched updates not handled this many seconds after they arrived are stored in the inbox
# (and the next batch fetched); those handled by then need no inbox row.
STORE_AFTER = 0.01
# A file Telegram does not hand over (getFile or the download failing with a network or
# server error) is asked for again after these pauses before the person is asked to resend.
FILE_RETRY_PAUSES = (0.5, 2.0)
# Concurrent Bot API calls; the outbox keeps at most one call per chat in flight.
SEND_CONNECTIONS = 16
# Answering a button and editing a message leave the order of the chat's messages as it is,
# so the outbox worker sends them alongside the chat's other messages instead of after them
# (an edit still waits for the message it edits). Only an edit whose message is gone, sent
# as a new message instead, can then land out of order.
INDEPENDENT = frozenset({OutboxKind.ANSWER_CALLBACK, OutboxKind.EDIT})
MAX_CAPTION = 1024
# A webhook update larger than this is refused (Telegram's updates are a few kilobytes).
MAX_UPDATE_BYTES = 1_048_576
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"


def webhook_secret_for(token: str) -> str:
    """The webhook secret used when PINJIAN_TELEGRAM_WEBHOOK_SECRET is not set: derived from
    the bot token, so every process and every restart registers and expects the same one, and
    only someone who holds the token (and so controls the bot anyway) can compute it."""
    digest = hmac.new(token.encode(), b"pinjian telegram webhook", hashlib.sha256)
    return digest.hexdigest()


def _markup(buttons: tuple[tuple[Button, ...], ...]) -> dict[str, Any] | None:
    """The Bot API's InlineKeyboardMarkup as JSON-ready data (sent as is)."""
    if not buttons:
        return None
    return {
        "inline_keyboard": [
            [{"text": b.text, "callback_data": b.payload} for b in row] for row in buttons
        ]
    }


class TelegramChannel:
    """Long polling by default; with a webhook URL, Telegram posts updates to our server,
    always with a secret token (``webhook_secret``, or one derived from the bot token). With a
    `leadership`, this process polls only while it holds it (see `_lead`)."""

    name = Channel.TELEGRAM
    independent = INDEPENDENT

    def __init__(
        self,
        *,
        token: str,
        api_url: str,
        file_url: str,
        engine: FlowEngine,
        db: Database,
        files: EvidenceStore,
        rate_limit: bool = True,
        poll_timeout: int = 10,
        webhook_url: str = "",
        webhook_secret: str = "",
        leadership: Leadership | None = None,
    ) -> None:
        self.engine = engine
        self.db = db
        self.files = files
        self.poll_timeout = poll_timeout
        self.webhook_url = webhook_url
        self.leadership = leadership
        self._token = token
        self._secret = webhook_secret or webhook_secret_for(token)
        self._webhook_secret = b""
        self._handled: list[str] = []
        # The keys of the updates stored in the inbox (and not yet forgotten).
        self._in_inbox: set[str] = set()
        self._poller: asyncio.Task[None] | None = None
        self.gate = Gate(Channel.TELEGRAM, engine, db)
        builder: ApplicationBuilder[Any, Any, Any, Any, Any, Any] = (
            ApplicationBuilder()
            .token(token)
            .base_url(api_url)
            .base_file_url(file_url)
            .request(AiohttpRequest(connection_pool_size=SEND_CONNECTIONS))
            .get_updates_request(AiohttpRequest(connection_pool_size=1))
            .updater(None)
        )
        if rate_limit:
            builder = builder.rate_limiter(
                AIORateLimiter(
                    overall_max_rate=1,
                    overall_time_period=1 / OVERALL_PER_SECOND,
                    max_retries=3,
                )
            )
        # The application holds the Bot API client (requests, rate limiter); updates do not
        # go through its dispatcher but straight to the gate (see `_queue`).
        self.application: Application[Any, Any, Any, Any, Any, Any] = builder.build()
        self.menus = ChatMenus(db, self.application.bot)

    async def start(self) -> None:
        await self.application.initialize()
        bot = self.application.bot
        await self.menus.set_default()
        if self.webhook_url:
            await bot.set_webhook(
                self.webhook_url,
                secret_token=self._secret,
                allowed_updates=list(ALLOWED_UPDATES),
            )
            self._webhook_secret = self._secret.encode()
            await self._replay()
            log.info("telegram: webhook %s as @%s", self.webhook_url, bot.username)
            return
        if self.leadership is not None:
            self._poller = asyncio.create_task(self._lead(self.leadership), name="telegram-lead")
            return
        await bot.delete_webhook(drop_pending_updates=False)
        await self._replay()
        self._poller = asyncio.create_task(self._poll(), name="telegram-poll")
        log.info("telegram: polling as @%s", bot.username)

    async def _lead(self, leadership: Leadership) -> None:
        """Poll while this process holds the poll lock. Telegram allows one getUpdates
        consumer per bot token: of several processes one polls, and when it dies its lock
        goes with its database connection and another takes over within seconds (updates it
        had not confirmed are fetched again; the inbox and event keys drop the duplicates)."""
        while True:
            await leadership.acquire()
            poller: asyncio.Task[None] | None = None
            try:
                await self.application.bot.delete_webhook(drop_pending_updates=False)
                await self._replay()
                log.info("telegram: polling as @%s", self.application.bot.username)
                poller = asyncio.create_task(self._poll(), name="telegram-poll")
                lost = asyncio.create_task(leadership.lost.wait())
                await asyncio.wait({poller, lost}, return_when=asyncio.FIRST_COMPLETED)
                lost.cancel()
                log.warning("telegram: poll lock lost; stopped polling")
            except Exception:
                log.exception("telegram: could not start polling; trying again")
                await asyncio.sleep(leadership.retry_seconds)
            finally:
                if poller is not None:
                    poller.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await poller
                await leadership.release()

    async def _poll(self) -> None:
        """Long polling that confirms updates to Telegram (the next call's offset) only once
        each is handled or stored in the inbox: a crash at any moment loses nothing a person
        sent."""
        offset = 0
        pause = 1.0
        while True:
            await self.gate.chats.below(MAX_IN_HAND)
            try:
                raw = await self.application.bot.do_api_request(
                    "get_updates",
                    api_kwargs={
                        "offset": offset,
                        "timeout": self.poll_timeout,
                        "allowed_updates": list(ALLOWED_UPDATES),
                    },
                    read_timeout=self.poll_timeout + POLL_READ_MARGIN,
                )
            except TimedOut:
                continue
            except Exception as exc:
                await self._poll_failed(exc, pause)
                pause = min(pause * 2, MAX_POLL_PAUSE)
                continue
            for data in raw:
                self._queue(data)
            # The handlers go first: an update handled by now needs no inbox row, and the
            # answers go out before the next request is made. What is not handled within
            # STORE_AFTER is stored before the next call confirms the batch.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.gate.chats.idle(), STORE_AFTER)
            try:
                await self._store(raw)
            except Exception as exc:
                await self._poll_failed(exc, pause)
                pause = min(pause * 2, MAX_POLL_PAUSE)
                continue
            pause = 1.0
            if raw:
                offset = int(raw[-1]["update_id"]) + 1

    async def _poll_failed(self, exc: Exception, pause: float) -> None:
        log.warning(
            "telegram: fetching updates failed (%s); retrying in %.0f s",
            exc.__class__.__name__,
            pause,
        )
        await asyncio.sleep(pause)

    async def _store(self, raw: list[dict[str, Any]]) -> None:
        """Keep the fetched updates not handled yet in the inbox, and forget the ones
        stored earlier and handled since."""
        handled, self._handled = self._handled, []
        done = set(handled)
        new = {
            key: data
            for data in raw
            if (key := update_key(data["update_id"])) not in done and key not in self._in_inbox
        }
        forget = done & self._in_inbox
        if not new and not forget:
            return
        try:
            async with self.db.transaction() as tx:
                await tx.inbox.add(Channel.TELEGRAM, list(new.items()))
                await tx.inbox.remove(Channel.TELEGRAM, forget)
        except BaseException:
            self._handled.extend(handled)
            raise
        self._in_inbox.update(new)
        self._in_inbox.difference_update(forget)

    def _queue(self, data: dict[str, Any]) -> None:
        """Hand a raw update to its chat's queue; one the bot cannot read is logged and
        dropped, one with ill-formed text is refused (and never stored)."""
        try:
            update = parse(data)
        except Unreadable as exc:
            update_id = data.get("update_id") if isinstance(data, dict) else None
            log.warning("telegram: unreadable update %s dropped (%s)", update_id, exc)
            if isinstance(update_id, int):
                self._handled.append(update_key(update_id))
            return
        if not well_formed_json(data):
            self._handled.append(update.key)
            self.gate.submit(update.chat_id, lambda: self._refuse_ill_formed(update))
            return
        self.gate.submit(update.chat_id, lambda: self._handle(update))

    async def _refuse_ill_formed(self, update: TelegramUpdate) -> None:
        """Text with a lone surrogate or a NUL character: one polite line, nothing stored."""
        log.info("telegram: update %s with ill-formed text refused", update.update_id)
        if update.private and update.user_id is not None and update.callback_id is None:
            await self.engine.tell(Channel.TELEGRAM, str(update.chat_id), "text_invalid")

    async def _handle(self, update: TelegramUpdate) -> None:
        """Translate and handle one update, then count it handled. One that fails stays in
        the inbox and is tried again after a restart; its event key keeps it from being done
        twice."""
        group_command = self._group_command(update)
        if group_command is not None:
            await self.gate.handle(Arrival(group_command), group=True)
            self._handled.append(update.key)
            return
        arrival = await self.translate(update)
        event = await self.gate.handle(arrival) if arrival is not None else None
        self._handled.append(update.key)
        if event is not None:
            await self.menus.check(int(event.user_id), update.chat_id)

    async def _replay(self) -> None:
        """Hand the updates a stopped or crashed process fetched but did not finish to the
        flows again (in order); those it did finish are refused by their event keys."""
        async with self.db.read() as tx:
            stored = await tx.inbox.pending(Channel.TELEGRAM)
        self._in_inbox.update(key for key, _ in stored)
        for _, data in stored:
            self._queue(data)
        if stored:
            log.info("telegram: %d stored update(s) handled again after a restart", len(stored))

    def _secret_matches(self, header: str | None) -> bool:
        """The secret header, compared in constant time as the bytes that were sent."""
        if header is None or not self._webhook_secret:
            return False
        try:
            sent = header.encode("utf-8", "surrogateescape")
        except UnicodeEncodeError:
            return False
        return hmac.compare_digest(sent, self._webhook_secret)

    async def webhook(self, request: web.Request) -> web.Response:
        """POST /telegram/webhook: check the secret token, store and queue the update, then
        answer (a 500 when it could not be stored, so that Telegram sends it again). A
        request without the right secret gets 403 and nothing else; a malformed one 4xx."""
        if not self._secret_matches(request.headers.get(SECRET_HEADER)):
            return web.Response(status=403)
        try:
            data = loads(await read_body(request, MAX_UPDATE_BYTES))
            update = parse(data)
        except TooLarge:
            return web.Response(status=413)
        except (BadJSON, Unreadable):
            return web.Response(status=400)
        if not well_formed_json(data):
            self.gate.submit(update.chat_id, lambda: self._refuse_ill_formed(update))
            return web.Response(status=200)
        try:
            await self._store([data])
        except Exception:
            log.exception("telegram: could not store a webhook update")
            return web.Response(status=500)
        self.gate.submit(update.chat_id, lambda: self._handle(update))
        return web.Response(status=200)

    def routes(self, app: web.Application) -> None:
        """The webhook endpoint, in webhook mode."""
        if self.webhook_url:
            app.router.add_post("/telegram/webhook", self.webhook)

    async def drain(self) -> None:
        """Wait until every update in hand has been handled."""
        await self.gate.drain()

    async def stop(self) -> None:
        """Stop taking updates and let the ones in hand finish; sending still works (the
        outbox worker finishes its chats before `close`)."""
        if self._poller is not None:
            self._poller.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._poller
            self._poller = None
        await self.gate.drain()

    async def close(self) -> None:
        """Forget the updates handled since the last batch, then close the Bot API client."""
        with contextlib.suppress(Exception):
            await self._store([])
        await self.application.shutdown()

    @property
    def username(self) -> str:
        return str(self.application.bot.username)

    async def translate(self, update: TelegramUpdate) -> Arrival | None:
        """Turn an update into an arrival for the gate (None: nothing for the flows)."""
        if update.user_id is None:
            return None
        if not update.private:
            await self._refuse_group(update)
            return None
        base: dict[str, Any] = {
            "channel": Channel.TELEGRAM,
            "user_id": str(update.user_id),
            "chat_id": str(update.chat_id),
            "key": update.key,
            "display_name": update.display_name,
        }
        if update.callback_id is not None:
            return Arrival(
                Incoming(
                    kind=EventKind.BUTTON,
                    payload=update.callback_data,
                    callback_id=update.callback_id,
                    **base | {"chat_id": str(update.user_id)},
                )
            )
        if update.text is not None:
            return Arrival(Incoming(kind=EventKind.TEXT, text=update.text, **base))
        file = update.file
        if file is None:
            return Arrival(Incoming(kind=EventKind.OTHER, **base))
        kind = EventKind.PHOTO if file.photo else EventKind.DOCUMENT
        unfetched = StoredFile(None, file.size, file.mime, file.file_id, file.name)
        if not file.mime.startswith("image/"):
            return Arrival(Incoming(kind=kind, text=update.caption, file=unfetched, **base))
        if file.size > self.files.max_bytes:
            too_large = replace(unfetched, too_large=True)
            return Arrival(Incoming(kind=kind, text=update.caption, file=too_large, **base))

        async def fetch(event: Incoming) -> Incoming | None:
            try:
                return replace(event, file=await self._store_file(file))
            except NetworkError as exc:
                log.warning(
                    "telegram: the file of update %s could not be fetched (%s)",
                    update.update_id,
                    exc.__class__.__name__,
                )
                await self.engine.tell(Channel.TELEGRAM, event.chat_id, "media_failed")
                return None

        event = Incoming(kind=kind, text=update.caption, file=unfetched, **base)
        return Arrival(event, fetch=fetch)

    @staticmethod
    def _group_command(update: TelegramUpdate) -> Incoming | None:
        """`/bind CODE` or `/unbind` sent in a group chat (bot.flows.group_binding)."""
        if update.private or update.user_id is None or update.callback_id is not None:
            return None
        parsed = parse_command(update.text or "")
        if parsed is None or parsed[0] not in GROUP_COMMANDS:
            return None
        command, args = parsed
        return Incoming(
            channel=Channel.TELEGRAM,
            user_id=str(update.user_id),
            chat_id=str(update.chat_id),
            key=update.key,
            kind=EventKind.COMMAND,
            command=command,
            args=args,
            display_name=update.chat_title,
        )

    async def _refuse_group(self, update: TelegramUpdate) -> None:
        """Inspections are personal: group chats get one polite line and nothing else (a
        button pressed there gets nothing)."""
        if update.callback_id is None and parse_command(update.text or "") is not None:
            await self.application.bot.send_message(update.chat_id, render("group_refused"))

    async def _store_file(self, file: TelegramFile) -> StoredFile:
        """Download an image into the evidence store (or refuse it: too big, too many pixels)."""
        size, mime, name = file.size, file.mime, file.name
        refused = StoredFile(None, size, mime, file.file_id, name)
        try:
            data = await self._download(file.file_id)
            if await asyncio.to_thread(too_many_pixels, io.BytesIO(data)):
                return replace(refused, too_many_pixels=True)
            stored = await self.files.put(data)
        except EvidenceTooLarge:
            return StoredFile(None, size, mime, file.file_id, name, too_large=True)
        except BadRequest as exc:
            if "too big" in str(exc).lower():
                return StoredFile(None, size, mime, file.file_id, name, too_large=True)
            raise
        facts = await asyncio.to_thread(photo_facts, data)
        return StoredFile(
            stored.sha256,
            stored.size,
            mime,
            file.file_id,
            name,
            taken_at=facts.taken_at,
            phash=facts.phash,
            position=facts.position,
        )

    async def _download(self, file_id: str) -> bytes:
        """getFile and the download, asked for again after a network or server error."""
        pauses = iter(FILE_RETRY_PAUSES)
        while True:
            try:
                telegram_file = await self.application.bot.get_file(file_id)
                return bytes(await telegram_file.download_as_bytearray())
            except BadRequest:
                raise
            except NetworkError as exc:
                pause = next(pauses, None)
                if pause is None:
                    raise
                log.warning(
                    "telegram: fetching a file failed (%s); trying again in %.1f s",
                    exc.__class__.__name__,
                    pause,
                )
                await asyncio.sleep(pause)

    async def send(self, delivery: Delivery) -> str | None:
        """Render one outbox message; returns Telegram's message id. A post to a project
        group that removed the bot marks the group inactive (bot.flows.group_posts.gone)."""
        group = delivery.outgoing.group
        group_id = group.group_id if group is not None else None
        if group_id is not None and not await self._group_active(group_id):
            raise DeliveryError("group inactive", permanent=True, logged=True)
        try:
            return await self._send(delivery)
        except RetryAfter as exc:
            retry = exc.retry_after
            seconds = retry if isinstance(retry, int | float) else retry.total_seconds()
            raise DeliveryError("rate limited", retry_after=float(seconds)) from None
        except Forbidden as exc:
            if group_id is not None:
                await group_posts.gone(self.db, group_id, f"telegram: {exc.message}")
                raise DeliveryError("group removed the bot", permanent=True, logged=True) from None
            raise DeliveryError(f"forbidden: {exc.message}", permanent=True) from None
        except BadRequest as exc:
            raise DeliveryError(f"bad request: {exc.message}", permanent=True) from None
        except (TimedOut, NetworkError) as exc:
            raise DeliveryError(f"network: {exc.__class__.__name__}") from None

    async def _group_active(self, group_id: int) -> bool:
        async with self.db.read() as tx:
            group = await tx.groups.get(group_id)
        return group is not None and group.active

    async def _send(self, delivery: Delivery) -> str | None:
        message = delivery.outgoing
        bot = self.application.bot
        chat_id = int(delivery.message.chat_id)
        text = message.text
        markup = _markup(message.buttons)
        if message.kind is OutboxKind.ANSWER_CALLBACK:
            try:
                await self._call(
                    "answer_callback_query",
                    callback_query_id=message.callback_id,
                    text=text[:200] or None,
                    show_alert=message.alert,
                )
            except BadRequest as exc:
                if "query is too old" not in exc.message.lower():
                    raise
            return None
        if message.kind is OutboxKind.EDIT and delivery.target_message_id is not None:
            try:
                await self._call(
                    "edit_message_text",
                    chat_id=chat_id,
                    message_id=int(delivery.target_message_id),
                    text=first_piece(text, MAX_TEXT),
                    parse_mode=ParseMode.HTML,
                    reply_markup=markup,
                )
                return delivery.target_message_id
            except BadRequest as exc:
                reason = exc.message.lower()
                if "message is not modified" in reason:
                    return delivery.target_message_id
                if "message to edit not found" not in reason:
                    raise
        if message.kind is OutboxKind.SEND_PHOTO:
            return await self._send_photos(chat_id, message.photos, text)
        if message.kind is OutboxKind.SEND_DOCUMENT:
            assert message.document is not None, "a document row names its file"
            data = await self.files.get(message.document)
            sent = await bot.send_document(
                chat_id,
                document=data,
                filename=message.document_name or "report",
                caption=first_piece(text, MAX_CAPTION) or None,
                parse_mode=ParseMode.HTML,
            )
            return str(sent.message_id)
        pieces = split_text(text) or [""]
        sent_id: str | None = None
        for index, piece in enumerate(pieces):
            sent = await self._call(
                "send_message",
                chat_id=chat_id,
                text=piece,
                parse_mode=ParseMode.HTML,
                reply_markup=markup if index == len(pieces) - 1 else None,
            )
            sent_id = str(sent["message_id"])
        return sent_id

    async def _call(self, method: str, **params: object) -> Any:
        """A Bot API call answered with Telegram's raw JSON result. python-telegram-bot's own
        method would turn the answered message, keyboard and all, back into objects (about a
        third of a send's cost) only for the outbox to keep its id."""
        api_kwargs = {key: value for key, value in params.items() if value is not None}
        return await self.application.bot.do_api_request(method, api_kwargs=api_kwargs)

    async def _send_photos(self, chat_id: int, hashes: tuple[str, ...], caption: str) -> str | None:
        bot = self.application.bot
        if len(hashes) == 1:
            data = await self.files.get(hashes[0])
            sent = await bot.send_photo(
                chat_id,
                photo=data,
                caption=first_piece(caption, MAX_CAPTION) or None,
                parse_mode=ParseMode.HTML,
            )
            return str(sent.message_id)
        first_id: str | None = None
        for start in range(0, len(hashes), 10):
            # An album's caption is the caption of its first photo.
            group = [
                InputMediaPhoto(
                    await self.files.get(h),
                    caption=(caption[:MAX_CAPTION] or None) if start + index == 0 else None,
                    parse_mode=ParseMode.HTML,
                )
                for index, h in enumerate(hashes[start : start + 10])
            ]
            if len(group) == 1:
                sent_one = await bot.send_photo(chat_id, photo=group[0].media)
                first_id = first_id or str(sent_one.message_id)
                continue
            sent = await bot.send_media_group(chat_id, media=group)
            first_id = first_id or str(sent[0].message_id)
        return first_id
