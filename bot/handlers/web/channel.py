"""Web chat adapter: the bot's own HTTP server serves a messenger-like page, translates what
the page posts into Incoming events for the flows, and delivers outbox messages to open pages
as a stream of server-sent events. Nothing else in the bot knows about the page.

Every request carries the person's login token (`Authorization: Bearer …`, taken by the page
from its link's fragment) and is checked against the database; a request without a valid
token gets 401 and nothing else. Tokens are never logged and are stored only as hashes.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import json
import mimetypes
import re
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from aiohttp import web

from bot.core.events import Channel, EventKind, Incoming, StoredFile
from bot.core.messages import Outgoing
from bot.core.texts import render
from bot.delivery import Delivery
from bot.flows import commands
from bot.flows.router import FlowEngine
from bot.handlers.web.hub import Hub, Subscription
from bot.handlers.web.links import chat_id_for
from bot.handlers.web.offline import open_inspections
from bot.handlers.web.transcript import (
    CLIENT_KEY,
    FROM_PERSON,
    find_file,
    message_id,
    transcript,
    view,
)
from bot.handlers.web.uploads import BadUpload, read_upload, sniff_image
from storage.db import Database
from storage.errors import DuplicateEvent, EvidenceMissing, EvidenceTooLarge
from storage.evidence import EvidenceStore
from storage.people import web_external_id
from storage.records import Identity, OutboxKind, Person

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
MAX_JSON_BYTES = 16 * 1024
MAX_TEXT = 4000
MAX_PAYLOAD_BYTES = 64


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


def _client_id(value: object) -> str:
    if not isinstance(value, str) or not CLIENT_ID.fullmatch(value):
        raise _json_error(web.HTTPBadRequest, "bad_id")
    return value


def _sse(name: str, data: dict[str, Any]) -> bytes:
    encoded = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return f"event: {name}\ndata: {encoded}\n\n".encode()


class WebChannel:
    def __init__(
        self,
        *,
        engine: FlowEngine,
        db: Database,
        files: EvidenceStore,
        heartbeat_seconds: float = 15.0,
        history_limit: int = 500,
    ) -> None:
        self.engine = engine
        self.db = db
        self.files = files
        self.heartbeat_seconds = heartbeat_seconds
        self.history_limit = history_limit
        self.hub = Hub()
        self._locks: defaultdict[str, asyncio.Lock] = defaultdict(asyncio.Lock)

    def setup(self, app: web.Application) -> None:
        """Add the page, its files and its API to the bot's HTTP server."""
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
        message = delivery.message
        if message.kind is OutboxKind.ANSWER_CALLBACK:
            text = message.payload.get("text") or ""
            if text:
                notice = {"text": text, "alert": bool(message.payload.get("alert"))}
                self.hub.publish(message.chat_id, ("notice", notice))
            return None
        shown_id = message_id(message, delivery.target_message_id)
        self.hub.publish(message.chat_id, ("message", view(message, shown_id)))
        return shown_id

    # -- sign-in --------------------------------------------------------------------------

    async def _resolve(self, token: str) -> Session | None:
        async with self.db.read() as tx:
            resolved = await tx.identities.resolve(Channel.WEB, web_external_id(token))
        return Session(*resolved) if resolved else None

    async def _session(self, request: web.Request) -> Session:
        """The person whose valid token the request carries, or 401."""
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        token = token.strip()
        if scheme.lower() == "bearer" and TOKEN.fullmatch(token):
            session = await self._resolve(token)
            if session is not None:
                return session
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
        return web.json_response(
            {
                "name": session.person.name,
                "max_upload_bytes": self.files.max_bytes,
                "commands": [
                    {"command": c.name, "label": c.label, "word": c.word} for c in allowed
                ],
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
        if not after_text.isdigit() or len(after_text) > 18:
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
                if not await self._still_signed_in(session):
                    return
                await response.write(b": ping\n\n")
                continue
            if event is None or not await self._still_signed_in(session):
                return
            name, data = event
            if name == "message" and data["seq"] <= last:
                continue
            await response.write(_sse(name, data))
            if subscription.overflowed and queue.empty():
                return

    async def _close_streams(self, app: web.Application) -> None:
        self.hub.close_all()

    # -- incoming -------------------------------------------------------------------------

    async def _send(self, request: web.Request) -> web.Response:
        """A typed message, a command or a button press: {"id", "kind", "text" | "payload"}."""
        session = await self._session(request)
        if (request.content_length or 0) > MAX_JSON_BYTES:
            raise web.HTTPRequestEntityTooLarge(
                MAX_JSON_BYTES,
                request.content_length or 0,
                text=json.dumps({"error": "too_long"}),
                content_type="application/json",
            )
        try:
            body = json.loads(await request.content.read(MAX_JSON_BYTES + 1))
        except (ValueError, UnicodeDecodeError):
            raise _json_error(web.HTTPBadRequest, "bad_json") from None
        if not isinstance(body, dict):
            raise _json_error(web.HTTPBadRequest, "bad_json")
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
        if text.startswith("/"):
            head, _, args = text.partition(" ")
            command = head[1:].lower()
            event = session.event(client_id, EventKind.COMMAND, command=command, args=args.strip())
            return event, echo
        return session.event(client_id, EventKind.TEXT, text=text), echo

    @staticmethod
    def _echo(client_id: str, *, text: str = "", photo: str | None = None) -> Outgoing:
        """What the person sent, as a message of theirs in the chat's transcript."""
        return Outgoing(
            kind=OutboxKind.SEND_PHOTO if photo else OutboxKind.SEND,
            text=text,
            photos=(photo,) if photo else (),
            extra={FROM_PERSON: True, CLIENT_KEY: client_id},
        )

    async def _handle(self, session: Session, event: Incoming, echo: Outgoing | None) -> None:
        """One chat's events in order: the person's own message first, then the flows."""
        chat_id = session.chat_id
        lock = self._locks[chat_id]
        async with lock:
            if echo is not None:
                try:
                    async with self.db.transaction(event_key=f"web:echo:{event.key}") as tx:
                        await tx.outbox.enqueue(
                            Channel.WEB,
                            chat_id,
                            echo.kind,
                            echo.to_payload(),
                            person_id=session.person.id,
                        )
                except DuplicateEvent:
                    pass
            await self.engine.handle(event)
        if not lock.locked() and not lock._waiters:
            self._locks.pop(chat_id, None)

    async def _upload(self, request: web.Request) -> web.Response:
        """A photo from the page (multipart). A refused file is still a handled message: the
        flows answer it in the chat, so the request succeeds either way."""
        session = await self._session(request)
        client_id = _client_id(request.headers.get("X-Message-Id"))
        limit = self.files.max_bytes
        try:
            upload = await read_upload(request, limit)
        except BadUpload:
            raise _json_error(web.HTTPBadRequest, "bad_upload") from None
        name = upload.name or None
        mime = sniff_image(upload.data[:32]) if upload.data is not None else None
        sha256 = None
        if upload.data is not None and mime is not None:
            try:
                sha256 = (await self.files.put(upload.data)).sha256
            except EvidenceTooLarge:
                sha256 = None
        too_large = upload.too_large or (mime is not None and sha256 is None)
        file = StoredFile(
            sha256=sha256,
            size=upload.size,
            mime=mime or "application/octet-stream",
            channel_ref=client_id,
            file_name=name,
            too_large=too_large,
        )
        if sha256 is not None:
            echo = self._echo(client_id, photo=sha256)
        else:
            size_kb = max(1, round(upload.size / 1024))
            echo = self._echo(client_id, text=render("web_file_echo", name=name, size_kb=size_kb))
        kind = EventKind.PHOTO if mime is not None or too_large else EventKind.DOCUMENT
        await self._handle(session, session.event(client_id, kind, file=file), echo)
        refused = "too_large" if too_large else ("not_image" if sha256 is None else None)
        return web.json_response({"ok": True, "refused": refused})

    # -- files ----------------------------------------------------------------------------

    async def _file(self, request: web.Request) -> web.Response:
        """A photo or document shown in the signed-in person's own chat."""
        session = await self._session(request)
        sha256 = request.match_info["sha256"]
        if not SHA256.fullmatch(sha256):
            raise web.HTTPNotFound()
        async with self.db.read() as tx:
            shared = await find_file(tx, session.chat_id, sha256)
        if shared is None:
            raise web.HTTPNotFound()
        try:
            data = await self.files.get(sha256)
        except EvidenceMissing:
            raise web.HTTPNotFound() from None
        if shared.document_name is None:
            content_type = sniff_image(data[:32]) or "application/octet-stream"
            disposition = "inline"
        else:
            guessed, _ = mimetypes.guess_type(shared.document_name)
            content_type = guessed or "application/octet-stream"
            disposition = f"attachment; filename*=UTF-8''{quote(shared.document_name)}"
        return web.Response(
            body=data,
            headers={
                "Content-Type": content_type,
                "Content-Disposition": disposition,
                "Cache-Control": "private, max-age=31536000, immutable",
                "Vary": "Authorization",
            },
        )
