"""Web chat adapter: the bot's own HTTP server serves a messenger-like page, translates what
the page posts into Incoming events for the flows, and delivers outbox messages to open pages
as a stream of server-sent events. Nothing else in the bot knows about the page.

Every request carries the person's login token (`Authorization: Bearer …`, taken by the page
from its link's fragment) and is checked against the database; a request without a valid
token gets 401 and nothing else, and an address with too many of those gets 429 for a while
(`limits.SignInGuard`). Tokens are never logged and are stored only as hashes.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import json
import logging
import math
import mimetypes
import re
import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any
from urllib.parse import quote

from aiohttp import web

from bot.core.events import Channel, EventKind, Incoming, StoredFile
from bot.core.messages import Outgoing
from bot.core.pixels import photo_facts, too_many_pixels
from bot.core.texts import plain, render
from bot.core.unicode import well_formed, well_formed_json
from bot.delivery import Delivery
from bot.flows import commands
from bot.flows.router import FlowEngine
from bot.handlers.gate import Arrival, Gate
from bot.handlers.json_body import BadJSON, TooLarge, loads, read_body
from bot.handlers.web.hub import Hub, Subscription
from bot.handlers.web.limits import SignInGuard, UploadGuard, UploadLimit
from bot.handlers.web.links import chat_id_for
from bot.handlers.web.offline import open_inspections
from bot.handlers.web.transcript import SharedFile, find_file, message_id, transcript, view
from bot.handlers.web.uploads import BadUpload, Upload, received, sniff_image
from storage.coordination import Notifications
from storage.db import Database
from storage.errors import DuplicateEvent, EvidenceMissing, EvidenceTooLarge
from storage.evidence import EvidenceStore
from storage.people import web_external_id
from storage.records import Identity, OutboxKind, Person, Role

log = logging.getLogger(__name__)

RELAY_CHANNEL = "pinjian_web"
CATCH_UP: tuple[str, dict[str, Any]] = ("catch_up", {})

STATIC = Path(__file__).resolve().parents[2] / "static"
STATIC_FILES = {
    "chat.js": "text/javascript; charset=utf-8",
    "chat.css": "text/css; charset=utf-8",
    "icon.svg": "image/svg+xml",
    "manifest.webmanifest": "application/manifest+json",
}
PAGE_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob:; "
    "connect-src 'self'; worker-src 'self'; manifest-src 'self'; base-uri 'none'; "
    "form-action 'none'; frame-ancestors 'none'"
)
WORKER_POLICY = "default-src 'none'; connect-src 'self'"
TOKEN = re.compile(r"[A-Za-z0-9_-]{32,128}")
CLIENT_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
SHA256 = re.compile(r"[0-9a-f]{64}")
OCTET_STREAM = "application/octet-stream"
MAX_JSON_BYTES = 16 * 1024
MAX_TEXT = 4000
MAX_PAYLOAD_BYTES = 64
SIGN_IN_FAILURES = 50
"""Failed sign-ins from one address in SIGN_IN_MINUTES before it is refused (429)."""
SIGN_IN_MINUTES = 10
STALE_UPLOAD_SECONDS = 3600
"""A received file this old is a leftover (another process on the same data may be receiving
the newer ones)."""


@dataclass(frozen=True)
class Session:
    """The signed-in person behind one request."""

    identity: Identity
    person: Person

    @property
    def chat_id(self) -> str:
        return self.identity.chat_id or chat_id_for(self.person.id)

    def key(self, client_id: str) -> str:
        """Idempotency key of a page message; page ids are only unique per login."""
        return f"{self.identity.id}:{client_id}"

    def event(self, client_id: str, kind: EventKind, **values: Any) -> Incoming:
        return Incoming(
            channel=Channel.WEB,
            user_id=self.identity.external_id,
            chat_id=self.chat_id,
            key=self.key(client_id),
            kind=kind,
            display_name=self.person.name,
            **values,
        )


def _json_error(status: type[web.HTTPError], error: str, **extra: Any) -> web.HTTPError:
    body = json.dumps({"error": error, **extra}, ensure_ascii=False)
    return status(text=body, content_type="application/json")


def _too_many(wait_seconds: float, message: str) -> web.HTTPError:
    error = _json_error(web.HTTPTooManyRequests, "too_many", message=message)
    error.headers["Retry-After"] = str(max(1, math.ceil(wait_seconds)))
    return error


def _client_id(value: object) -> str:
    if not isinstance(value, str) or not CLIENT_ID.fullmatch(value):
        raise _json_error(web.HTTPBadRequest, "bad_id")
    return value


def _sse(name: str, data: dict[str, Any]) -> bytes:
    """One server-sent event. It cannot fail on any stored text: a lone surrogate (kept by
    older versions) becomes its JSON escape, which the page reads as a replacement character."""
    encoded = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return f"event: {name}\ndata: {encoded}\n\n".encode("utf-8", "backslashreplace")


PUSHED_FILES = 4096
"""How many pushed files are remembered (a few seconds' worth at most is ever needed)."""


class WebChannel:
    name = Channel.WEB
    independent: frozenset[OutboxKind] = frozenset()

    def __init__(
        self,
        *,
        engine: FlowEngine,
        db: Database,
        files: EvidenceStore,
        incoming: Path,
        upload_limit: UploadLimit,
        heartbeat_seconds: float = 15.0,
        history_limit: int = 500,
    ) -> None:
        self.engine = engine
        self.db = db
        self.files = files
        self.incoming = incoming
        """Where uploads are received (temporary files, each removed when its request ends)."""
        self.heartbeat_seconds = heartbeat_seconds
        self.history_limit = history_limit
        self.hub = Hub()
        self._pushed: OrderedDict[tuple[str, str], SharedFile] = OrderedDict()
        """(chat, sha256) of the files this process pushed live, newest last: a page may ask
        for one before the worker has marked its row sent (and stored its prepared payload)."""
        self.uploads = UploadGuard(upload_limit)
        self.sign_ins = SignInGuard(SIGN_IN_FAILURES, SIGN_IN_MINUTES)
        self.gate = Gate(Channel.WEB, engine, db)
        self._origin = uuid.uuid4().hex[:12]
        self.relay = Notifications(
            db.url,
            RELAY_CHANNEL,
            self._relayed,
            lambda: self.hub.publish_all(CATCH_UP),
        )

    async def start(self) -> None:
        """Hear the other processes' deliveries (on PostgreSQL)."""
        await self.relay.start()

    async def stop(self) -> None:
        """Let the messages in hand finish (the HTTP server stops taking new ones last)."""
        await self.gate.drain()

    async def close(self) -> None:
        await self.relay.stop()

    def routes(self, app: web.Application) -> None:
        """Add the page, its files and its API to the bot's HTTP server."""
        self.incoming.mkdir(parents=True, exist_ok=True)
        stale = time.time() - STALE_UPLOAD_SECONDS
        for leftover in self.incoming.iterdir():  # of a process that stopped mid-upload
            with contextlib.suppress(FileNotFoundError):
                if leftover.stat().st_mtime < stale:
                    leftover.unlink()
        app.router.add_get("/", self._page)
        app.router.add_get("/chat", self._page)
        app.router.add_get("/static/{name}", self._static)
        app.router.add_get("/sw.js", self._worker)
        app.router.add_get("/api/me", self._me)
        app.router.add_get("/api/inspections", self._inspections)
        app.router.add_get("/api/events", self._events)
        app.router.add_post("/api/send", self._send)
        app.router.add_post("/api/upload", self._upload)
        app.router.add_get("/api/files/{sha256}", self._file)
        app.on_response_prepare.append(self._protect)
        app.on_shutdown.append(self._close_streams)

    # -- delivery -------------------------------------------------------------------------

    async def send(self, delivery: Delivery) -> str | None:
        """The OutboxWorker's sender: the row itself is the stored message; push it live."""
        message, chat_id = delivery.outgoing, delivery.message.chat_id
        if message.kind is OutboxKind.ANSWER_CALLBACK:
            if message.text:
                notice = {"text": message.text, "alert": message.alert}
                self.hub.publish(chat_id, ("notice", notice))
                await self._relay({"chat": chat_id, "notice": notice})
            return None
        shown_id = message_id(delivery.message, delivery.target_message_id)
        self._remember_files(chat_id, message)
        self.hub.publish(chat_id, ("message", view(delivery.message, message, shown_id)))
        await self._relay({"chat": chat_id})
        return shown_id

    def _remember_files(self, chat_id: str, message: Outgoing) -> None:
        shown = [SharedFile(sha, None) for sha in message.photos]
        if message.document:
            shown.append(
                SharedFile(
                    message.document, message.document_name or plain("common", "unnamed_file")
                )
            )
        for shared in shown:
            self._pushed[(chat_id, shared.sha256)] = shared
            self._pushed.move_to_end((chat_id, shared.sha256))
        while len(self._pushed) > PUSHED_FILES:
            self._pushed.popitem(last=False)

    async def _relay(self, note: dict[str, Any]) -> None:
        """Tell the other processes: a page of the chat open there reads what is new from
        the outbox (the row is claimed, so it is already in the transcript)."""
        if self.relay.enabled:
            await self.relay.publish(json.dumps({**note, "from": self._origin}))

    def _relayed(self, payload: str) -> None:
        note = json.loads(payload)
        if note.get("from") == self._origin:
            return
        notice = note.get("notice")
        self.hub.publish(str(note["chat"]), ("notice", notice) if notice else CATCH_UP)

    # -- sign-in --------------------------------------------------------------------------

    async def _resolve(self, external_id: str) -> Session | None:
        async with self.db.read() as tx:
            resolved = await tx.identities.resolve(Channel.WEB, external_id)
        return Session(*resolved) if resolved else None

    async def _session(self, request: web.Request) -> Session:
        """The person whose valid token the request carries, or 401 (429 for an address with
        too many failed sign-ins)."""
        header = request.headers.get("Authorization")
        scheme, _, token = (header or "").partition(" ")
        token = token.strip()
        address = request.remote or "unknown"
        external_id = None
        if scheme.lower() == "bearer" and TOKEN.fullmatch(token):
            external_id = web_external_id(token)
        wait = self.sign_ins.refused(address, external_id)
        if wait is not None:
            raise _too_many(wait, render("web_sign_in_throttled"))
        if external_id is not None:
            session = await self._resolve(external_id)
            if session is not None:
                self.sign_ins.signed_in(external_id)
                return session
        if header is not None:
            failures = self.sign_ins.failed(address)
            log.info("web: sign-in with a bad or revoked token from %s (%s)", address, failures)
            if failures == SIGN_IN_FAILURES:
                log.warning(
                    "web: %s failed sign-ins from %s in %s minutes; refusing it for a while",
                    failures,
                    address,
                    SIGN_IN_MINUTES,
                )
        error = _json_error(web.HTTPUnauthorized, "signed_out", message=render("web_signed_out"))
        error.headers["WWW-Authenticate"] = "Bearer"
        raise error

    async def _still_signed_in(self, session: Session) -> bool:
        async with self.db.read() as tx:
            resolved = await tx.identities.resolve(Channel.WEB, session.identity.external_id)
        return resolved is not None and resolved[0].id == session.identity.id

    # -- the page -------------------------------------------------------------------------

    async def _page(self, request: web.Request) -> web.FileResponse:
        return web.FileResponse(
            STATIC / "index.html",
            headers={
                "Content-Security-Policy": PAGE_POLICY,
                "Cache-Control": "no-cache",
                "Content-Type": "text/html; charset=utf-8",
            },
        )

    async def _static(self, request: web.Request) -> web.FileResponse:
        name = request.match_info["name"]
        if name not in STATIC_FILES:
            raise web.HTTPNotFound()
        return web.FileResponse(
            STATIC / name,
            headers={"Cache-Control": "no-cache", "Content-Type": STATIC_FILES[name]},
        )

    async def _worker(self, request: web.Request) -> web.FileResponse:
        """The service worker, from the site's root so that its scope covers /chat."""
        return web.FileResponse(
            STATIC / "sw.js",
            headers={
                "Content-Security-Policy": WORKER_POLICY,
                "Cache-Control": "no-cache",
                "Content-Type": "text/javascript; charset=utf-8",
            },
        )

    async def _protect(self, request: web.Request, response: web.StreamResponse) -> None:
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "no-referrer")
        response.headers.setdefault("X-Frame-Options", "DENY")

    async def _me(self, request: web.Request) -> web.Response:
        session = await self._session(request)
        async with self.db.read() as tx:
            allowed = await commands.for_person(tx, session.person.id)
            person_id = session.person.id
            sites = [
                site for role in Role for site in await tx.roles.sites_with_role(person_id, role)
            ]
        # The page shows message times on the clock of the person's sites (the company's when
        # they span several time zones), not on the device's.
        zones = {site.timezone for site in sites}
        timezone = zones.pop() if len(zones) == 1 else self.engine.settings.timezone
        return web.json_response(
            {
                "name": session.person.name,
                "max_upload_bytes": self.files.max_bytes,
                "commands": [
                    {"command": c.name, "label": c.label, "word": c.word} for c in allowed
                ],
                "timezone": timezone,
            },
            headers={"Cache-Control": "no-store"},
        )

    async def _inspections(self, request: web.Request) -> web.Response:
        """The person's open inspections, for answering while offline (bot.flows.queued)."""
        session = await self._session(request)
        async with self.db.read() as tx:
            inspections = await open_inspections(tx, session.person.id)
        return web.json_response(
            {"inspections": inspections}, headers={"Cache-Control": "no-store"}
        )

    # -- live messages --------------------------------------------------------------------

    async def _events(self, request: web.Request) -> web.StreamResponse:
        """Server-sent events: the transcript after `after` first, then new messages live."""
        session = await self._session(request)
        after_text = request.query.get("after", "0")
        if not after_text.isascii() or not after_text.isdigit() or len(after_text) > 18:
            raise _json_error(web.HTTPBadRequest, "bad_after")
        after = int(after_text)
        response = web.StreamResponse(
            headers={
                "Content-Type": "text/event-stream; charset=utf-8",
                "Cache-Control": "no-store",
                "X-Accel-Buffering": "no",
            }
        )
        await response.prepare(request)
        with self.hub.subscribe(session.chat_id) as subscription:
            async with self.db.read() as tx:
                views, truncated = await transcript(tx, session.chat_id, after, self.history_limit)
            last = views[-1]["seq"] if views else after
            await response.write(
                _sse("history", {"messages": views, "reset": truncated or after == 0})
            )
            with contextlib.suppress(ConnectionError):
                await self._stream(response, session, subscription, last)
        return response

    async def _stream(
        self,
        response: web.StreamResponse,
        session: Session,
        subscription: Subscription,
        last: int,
    ) -> None:
        queue = subscription.queue
        while True:
            try:
                event = await asyncio.wait_for(queue.get(), self.heartbeat_seconds)
            except TimeoutError:
                event = ("ping", {})
            if subscription.closed:
                # A newer stream of the person's replaced this one: the page waits before
                # it connects again, so that many open tabs do not take turns for ever.
                await response.write(_sse("closed", {"reason": "replaced"}))
                return
            if event is None or not await self._still_signed_in(session):
                return
            if event[0] == "ping":
                await response.write(b": ping\n\n")
                continue
            name, data = event
            if name == "catch_up":
                last = await self._catch_up(response, session.chat_id, last)
                continue
            if name == "message":
                if data["seq"] <= last:
                    continue
                last = data["seq"]
            await response.write(_sse(name, data))
            if subscription.overflowed and queue.empty():
                return

    async def _catch_up(self, response: web.StreamResponse, chat_id: str, last: int) -> int:
        """Send the messages after `last` that another process delivered; the newest seq."""
        async with self.db.read() as tx:
            views, _ = await transcript(tx, chat_id, last, self.history_limit)
        for shown in views:
            await response.write(_sse("message", shown))
            last = shown["seq"]
        return last

    async def _close_streams(self, app: web.Application) -> None:
        self.hub.close_all()

    # -- incoming -------------------------------------------------------------------------

    async def _send(self, request: web.Request) -> web.Response:
        """A typed message, a command or a button press: {"id", "kind", "text" | "payload"}."""
        session = await self._session(request)
        try:
            body = loads(await read_body(request, MAX_JSON_BYTES))
        except TooLarge:
            raise web.HTTPRequestEntityTooLarge(
                MAX_JSON_BYTES,
                request.content_length or 0,
                text=json.dumps({"error": "too_long"}),
                content_type="application/json",
            ) from None
        except BadJSON:
            raise _json_error(web.HTTPBadRequest, "bad_json") from None
        if not isinstance(body, dict):
            raise _json_error(web.HTTPBadRequest, "bad_json")
        if not well_formed_json(body):
            raise _json_error(web.HTTPBadRequest, "bad_text", message=render("text_invalid"))
        event, echo = self._translate(session, body)
        await self._handle(session, event, echo)
        return web.json_response({"ok": True})

    def _translate(
        self, session: Session, body: dict[str, Any]
    ) -> tuple[Incoming, Outgoing | None]:
        client_id = _client_id(body.get("id"))
        kind = body.get("kind")
        if kind == "button":
            data = body.get("payload")
            if not isinstance(data, str) or not 0 < len(data.encode()) <= MAX_PAYLOAD_BYTES:
                raise _json_error(web.HTTPBadRequest, "bad_payload")
            key = session.key(client_id)
            return session.event(client_id, EventKind.BUTTON, payload=data, callback_id=key), None
        if kind == "command":
            command = body.get("command")
            if not isinstance(command, str) or not re.fullmatch(r"[a-z]{1,32}", command):
                raise _json_error(web.HTTPBadRequest, "bad_command")
            # A ☰ menu tap shows in the chat as the menu's words, not as "/inspect".
            menu = commands.BY_NAME.get(command)
            echo = self._echo(client_id, text=html.escape(menu.label)) if menu else None
            return session.event(client_id, EventKind.COMMAND, command=command), echo
        text = body.get("text")
        if kind != "text" or not isinstance(text, str) or not text.strip():
            raise _json_error(web.HTTPBadRequest, "bad_message")
        text = text.strip()[:MAX_TEXT]
        echo = self._echo(client_id, text=html.escape(text))
        return session.event(client_id, EventKind.TEXT, text=text), echo

    @staticmethod
    def _echo(client_id: str, *, text: str = "", photo: str | None = None) -> Outgoing:
        """What the person sent, as a message of theirs in the chat's transcript."""
        return Outgoing(
            kind=OutboxKind.SEND_PHOTO if photo else OutboxKind.SEND,
            text=text,
            photos=(photo,) if photo else (),
            from_person=True,
            client_key=client_id,
        )

    async def _handle(self, session: Session, event: Incoming, echo: Outgoing | None) -> None:
        """One chat's events in order: the person's own message first, then the flows."""

        async def turn() -> None:
            if echo is not None:
                await self._keep_echo(session, event, echo)
            await self.gate.handle(Arrival(event))

        await self.gate.run(session.chat_id, turn)

    async def _keep_echo(self, session: Session, event: Incoming, echo: Outgoing) -> None:
        """The person's own message, into the chat's transcript once."""
        try:
            async with self.db.transaction(event_key=f"web:echo:{event.key}") as tx:
                await tx.outbox.enqueue(
                    Channel.WEB,
                    session.chat_id,
                    echo.kind,
                    echo.to_payload(),
                    person_id=session.person.id,
                )
        except DuplicateEvent:
            pass

    async def _upload(self, request: web.Request) -> web.Response:
        """A photo from the page (multipart). A refused file is still a handled message: the
        flows answer it in the chat, so the request succeeds either way; only a person over
        their upload limit gets 429 (and nothing is read or stored)."""
        session = await self._session(request)
        client_id = _client_id(request.headers.get("X-Message-Id"))
        wait_minutes = self.uploads.start(session.person.id)
        if wait_minutes is not None:
            limit = self.uploads.limit
            message = render(
                "web_upload_limit",
                files=limit.files,
                mb=limit.total_bytes // 1_048_576,
                minutes=limit.minutes,
                wait_minutes=wait_minutes,
            )
            raise _too_many(wait_minutes * 60, message)
        try:
            async with received(request, self.files.max_bytes, self.incoming) as upload:
                if not well_formed(upload.name):
                    raise _json_error(
                        web.HTTPBadRequest, "bad_text", message=render("text_invalid")
                    )
                self.uploads.received(session.person.id, min(upload.size, self.files.max_bytes))
                file = await self._keep(upload, client_id)
        except BadUpload:
            raise _json_error(web.HTTPBadRequest, "bad_upload") from None
        if file.sha256 is not None:
            echo = self._echo(client_id, photo=file.sha256)
        else:
            size_kb = max(1, round(upload.size / 1024))
            name = file.file_name
            echo = self._echo(client_id, text=render("web_file_echo", name=name, size_kb=size_kb))
        image = file.mime != OCTET_STREAM
        kind = EventKind.PHOTO if image or file.too_large else EventKind.DOCUMENT
        await self._handle(session, session.event(client_id, kind, file=file), echo)
        refused = None
        if file.too_large:
            refused = "too_large"
        elif file.too_many_pixels:
            refused = "too_many_pixels"
        elif file.sha256 is None:
            refused = "not_image"
        return web.json_response({"ok": True, "refused": refused})

    async def _keep(self, upload: Upload, client_id: str) -> StoredFile:
        """The received file as the flows get it: an image within the limits goes into the
        evidence store (read from its temporary file in chunks)."""
        name = upload.name or None
        mime = sniff_image(upload.head) if upload.path is not None else None
        refused = StoredFile(None, upload.size, mime or OCTET_STREAM, client_id, name)
        if upload.path is None:
            return replace(refused, too_large=True)
        if mime is None:
            return refused
        if await asyncio.to_thread(too_many_pixels, upload.path):
            return replace(refused, too_many_pixels=True)
        facts = await asyncio.to_thread(photo_facts, upload.path)
        try:
            stored = await self.files.put_file(upload.path)
        except EvidenceTooLarge:
            return replace(refused, too_large=True)
        return replace(
            refused,
            sha256=stored.sha256,
            taken_at=facts.taken_at,
            phash=facts.phash,
            position=facts.position,
        )

    # -- files ----------------------------------------------------------------------------

    async def _file(self, request: web.Request) -> web.StreamResponse:
        """A photo or document shown in the signed-in person's own chat, sent as it is read
        from the store (a 20 MB document is never held whole)."""
        session = await self._session(request)
        sha256 = request.match_info["sha256"]
        if not SHA256.fullmatch(sha256):
            raise web.HTTPNotFound()
        async with self.db.read() as tx:
            shared = await find_file(tx, session.chat_id, sha256)
        shared = shared or self._pushed.get((session.chat_id, sha256))
        if shared is None:
            raise web.HTTPNotFound()
        async with contextlib.aclosing(self.files.chunks(sha256)) as chunks:
            try:
                first = await anext(chunks, b"")
            except EvidenceMissing:
                raise web.HTTPNotFound() from None
            if shared.document_name is None:
                content_type = sniff_image(first[:32]) or "application/octet-stream"
                disposition = "inline"
            else:
                guessed, _ = mimetypes.guess_type(shared.document_name)
                content_type = guessed or "application/octet-stream"
                name = quote(shared.document_name, errors="replace")  # a row of older versions
                disposition = f"attachment; filename*=UTF-8''{name}"
            response = web.StreamResponse(
                headers={
                    "Content-Type": content_type,
                    "Content-Disposition": disposition,
                    "Cache-Control": "private, max-age=31536000, immutable",
                    "Vary": "Authorization",
                }
            )
            await response.prepare(request)
            if request.method != "HEAD":  # a HEAD answer has no body (web.Response knows)
                await response.write(first)
                async for chunk in chunks:
                    await response.write(chunk)
        await response.write_eof()
        return response
