"""A fake Telegram Bot API server (aiohttp, 127.0.0.1, free port) for tests and benchmarks.

The real python-telegram-bot ``Application`` runs against it unchanged::

    async with FakeTelegramAPI() as fake:
        app = fake.builder().build()  # ApplicationBuilder with token and base URLs set
        app.add_handler(MessageHandler(filters.TEXT, echo))
        async with running(app):  # initialize, start_polling, start ... and back
            alice = fake.user(1001, first_name="Alice")
            await alice.send_text("hi")
            reply = await fake.wait_for(lambda: fake.last_message(alice.id))

It stores what it receives (``fake.sent``, per-chat messages with edit history, answered
callback queries, commands) and enforces Telegram's limits with Telegram's error bodies (see
:mod:`tests.fakes.telegram_limits`). ``getUpdates`` follows Telegram's offset rules: an update
is returned until a later call confirms it with ``offset > update_id``; long polls wait until
an update arrives or ``timeout`` passes; a newer ``getUpdates`` ends an older waiting one with
409 Conflict.
"""

from __future__ import annotations

import asyncio
import bisect
import copy
import inspect
import json
import re
import secrets
import socket
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self, TypeVar

from aiohttp import web

from tests.fakes.telegram_chats import (
    ChatStore,
    FakeChat,
    FakeUser,
    Handler,
    Params,
    StoredMessage,
    Upload,
    buttons_of,
)
from tests.fakes.telegram_limits import (
    FLOOD_METHODS,
    ApiError,
    FloodLimiter,
    bad_request,
    check_commands,
    coerce_param,
)
from tests.fakes.telegram_media import FileStore

if TYPE_CHECKING:
    from telegram.ext import Application, ApplicationBuilder

__all__ = [
    "ApiCall",
    "FakeChat",
    "FakeTelegramAPI",
    "FakeUser",
    "StoredMessage",
    "Upload",
    "running",
]

T = TypeVar("T")
_METHOD_PATH = re.compile(r"/bot([^/]+)/([A-Za-z0-9_]+)/?")
# Update kinds Telegram leaves out unless allowed_updates names them.
_OPT_IN_UPDATES = frozenset({"chat_member", "message_reaction", "message_reaction_count"})


@dataclass
class ApiCall:
    """One request to the fake, in arrival order. ``status`` is ``None`` while in flight."""

    method: str
    params: Params
    at: float
    files: dict[str, Upload] = field(default_factory=dict)
    status: int | None = None
    result: Any = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        """Whether Telegram would have answered ``"ok": true``."""
        return self.status == 200


@dataclass
class _Forced:
    """A re-delivered copy of an update, returned once regardless of ``offset``."""

    update: dict[str, Any]
    delivered: bool = False


class _Signal:
    """Wakes all current waiters. Take :meth:`current` *before* checking your condition."""

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def current(self) -> asyncio.Event:
        return self._event

    def fire(self) -> None:
        self._event.set()
        self._event = asyncio.Event()


class FakeTelegramAPI:
    """An in-process stand-in for api.telegram.org; use as ``async with FakeTelegramAPI()``."""

    def __init__(
        self,
        *,
        token: str | None = None,
        bot_username: str = "pinjian_test_bot",
        bot_first_name: str = "品检 Test",
        strict_html: bool = True,
        first_update_id: int = 100_000_001,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """``strict_html`` also rejects a bare ``&`` in HTML (Telegram keeps it literally)."""
        self.token = token or f"123456:TEST{secrets.token_urlsafe(24)[:31]}"
        self.bot_username = bot_username
        self.bot_id = int(self.token.split(":", 1)[0])
        self.bot_user: dict[str, Any] = {
            "id": self.bot_id,
            "is_bot": True,
            "first_name": bot_first_name,
            "username": bot_username,
        }
        self.url = ""
        self.sent: list[ApiCall] = []
        self._calls_by_method: dict[str, list[ApiCall]] = {}
        self.webhook: dict[str, Any] | None = None
        self.downloads: list[str] = []
        self.deliveries: list[list[int]] = []
        self.dropped_updates: list[dict[str, Any]] = []
        self.flood_hits = 0
        self.conflicts = 0
        self.store = ChatStore(self.bot_user, clock=clock, strict_html=strict_html)
        self.files: FileStore = self.store.files
        self.answered_callbacks: list[dict[str, Any]] = self.store.answered_callbacks
        self._clock = clock
        self._queue: list[dict[str, Any]] = []
        self._forced: list[_Forced] = []
        self._all_updates: dict[int, dict[str, Any]] = {}
        self._delivery_counts: Counter[int] = Counter()
        # perf_counter() when getUpdates first handed each update out (bot-side latency in bench/)
        self.first_delivered: dict[int, float] = {}
        self._next_update_id = first_update_id
        self._allowed_updates: set[str] | None = None
        self._commands: dict[tuple[str, str], list[dict[str, str]]] = {}
        self._flood: FloodLimiter | None = None
        self._failures: dict[str, int] = {}
        self._holds: dict[str, asyncio.Event] = {}
        self._poll_generation = 0
        self._updates = _Signal()
        self._changed = _Signal()
        self._watchers: dict[Any, list[asyncio.Queue[ApiCall]]] = {}
        self._closing = False
        self._runner: web.AppRunner | None = None
        own: dict[str, Handler] = {
            "getMe": self._get_me,
            "getUpdates": self._get_updates,
            "deleteWebhook": self._delete_webhook,
            "setWebhook": self._set_webhook,
            "getWebhookInfo": self._get_webhook_info,
            "setMyCommands": self._set_my_commands,
            "getMyCommands": self._get_my_commands,
            "deleteMyCommands": self._delete_my_commands,
        }
        self._methods = {
            name.lower(): (name, handler)
            for name, handler in {**own, **self.store.handlers()}.items()
        }

    # ----------------------------------------------------------------- lifecycle

    async def start(self) -> Self:
        """Serve on 127.0.0.1 at a free port; sets :attr:`url`."""
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(
            app, handler_cancellation=True, access_log=None, shutdown_timeout=1.0
        )
        await self._runner.setup()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))
        sock.listen(128)
        sock.setblocking(False)
        await web.SockSite(self._runner, sock).start()
        self.url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        return self

    async def close(self) -> None:
        """End waiting long polls and stop serving."""
        self._closing = True
        self._updates.fire()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Self:
        return await self.start()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    @property
    def base_url(self) -> str:
        """For ``ApplicationBuilder().base_url(...)``."""
        return f"{self.url}/bot"

    @property
    def base_file_url(self) -> str:
        """For ``ApplicationBuilder().base_file_url(...)``."""
        return f"{self.url}/file/bot"

    def builder(self) -> ApplicationBuilder:  # type: ignore[type-arg]
        """A python-telegram-bot ``ApplicationBuilder`` pointed at this fake."""
        from telegram.ext import ApplicationBuilder

        return (
            ApplicationBuilder()
            .token(self.token)
            .base_url(self.base_url)
            .base_file_url(self.base_file_url)
        )

    # ----------------------------------------------------------------- test controls

    def user(
        self,
        user_id: int,
        first_name: str = "Test",
        *,
        last_name: str | None = None,
        username: str | None = None,
        language_code: str | None = "zh-hans",
    ) -> FakeUser:
        """A user handle (its private chat has ``chat_id == user_id``)."""
        user = FakeUser(self, user_id, first_name, last_name, username, language_code)
        chat = self.store.chats.setdefault(user_id, FakeChat(id=user_id, type="private"))
        chat.first_name, chat.last_name, chat.username = first_name, last_name, username
        return user

    def group(
        self, chat_id: int, title: str, *, username: str | None = None, kind: str = "supergroup"
    ) -> FakeChat:
        """Register a group chat users can write in (``send_text(..., chat_id=...)``)."""
        chat = self.store.chats.setdefault(chat_id, FakeChat(id=chat_id, type=kind))
        chat.title, chat.username = title, username
        return chat

    def remove_bot(self, chat_id: int) -> None:
        """The bot is removed from a group: sends to it get 403 Forbidden (kicked)."""
        self.store.chats[chat_id].blocked = True

    def chat(self, chat_id: int) -> FakeChat:
        """A known chat (KeyError if none)."""
        return self.store.chats[chat_id]

    def add_file(
        self,
        data: bytes,
        *,
        kind: str = "document",
        file_name: str | None = None,
        mime_type: str | None = None,
        file_size: int | None = None,
    ) -> str:
        """Register a file the bot may ``getFile``; returns its file_id."""
        stored = self.files.add(
            data, kind=kind, file_name=file_name, mime_type=mime_type, file_size=file_size
        )
        return stored.file_id

    def inject_raw_update(self, update: dict[str, Any]) -> int:
        """Queue an update as given (an ``update_id`` is assigned if missing)."""
        return self._enqueue(copy.deepcopy(update))

    def update(self, update_id: int) -> dict[str, Any]:
        """An update the fake created or was given, as first queued (KeyError if unknown)."""
        return self._all_updates[update_id]

    def redeliver(self, update_id: int) -> int:
        """Deliver an already-sent update once more, same ``update_id`` (idempotency tests)."""
        self._forced.append(_Forced(copy.deepcopy(self._all_updates[update_id])))
        self._updates.fire()
        return update_id

    def watch(self, chat_id: int) -> asyncio.Queue[ApiCall]:
        """A queue that receives every successful bot call aimed at the chat, as it happens
        (for load generators that must not poll)."""
        queue: asyncio.Queue[ApiCall] = asyncio.Queue()
        self._watchers.setdefault(chat_id, []).append(queue)
        return queue

    def flood_limits(
        self, per_chat_per_sec: float | None = 1, global_per_sec: float | None = 30
    ) -> None:
        """Answer sends over these rates with 429 ``retry after N`` (off by default)."""
        self._flood = FloodLimiter(per_chat_per_sec, global_per_sec)

    def no_flood_limits(self) -> None:
        """Switch flood limits off again."""
        self._flood = None

    def hold(self, method: str) -> asyncio.Event:
        """Keep every call of `method` waiting until the returned event is set (a slow
        Telegram as the bot sees it)."""
        gate = self._holds[method.lower()] = asyncio.Event()
        return gate

    def fail_next(self, method: str, times: int = 1) -> None:
        """Answer the next `times` calls of `method` with 500 Internal Server Error (a
        Telegram outage as the bot sees it)."""
        self._failures[method.lower()] = times

    # ----------------------------------------------------------------- inspection

    def messages(
        self, chat_id: int, *, include_user: bool = False, include_deleted: bool = False
    ) -> list[StoredMessage]:
        """Messages of a chat in order (the bot's only, unless ``include_user``)."""
        chat = self.store.chats.get(chat_id)
        if chat is None:
            return []
        return [
            msg
            for msg in chat.messages.values()
            if (include_user or msg.from_bot) and (include_deleted or not msg.deleted)
        ]

    def last_message(self, chat_id: int, *, include_user: bool = False) -> StoredMessage | None:
        """The latest undeleted message of the bot (or anyone) in a chat."""
        found = self.messages(chat_id, include_user=include_user)
        return found[-1] if found else None

    def message(self, chat_id: int, message_id: int) -> StoredMessage:
        """One message by id (KeyError if unknown)."""
        return self.store.chats[chat_id].messages[message_id]

    def texts(self, chat_id: int) -> list[str]:
        """Current text or caption of each undeleted bot message in a chat."""
        return [msg.content or "" for msg in self.messages(chat_id)]

    @staticmethod
    def buttons(message: StoredMessage | dict[str, Any]) -> list[tuple[str, str | None]]:
        """``(text, callback_data)`` of each inline button of a message."""
        if isinstance(message, StoredMessage):
            return message.buttons()
        return buttons_of(message.get("reply_markup"))

    def calls(self, method: str | None = None, *, ok: bool | None = None) -> list[ApiCall]:
        """Recorded calls, optionally of one method (case-insensitive) and outcome."""
        found = self.sent if method is None else self._calls_by_method.get(method.lower(), [])
        return [call for call in found if ok is None or call.ok == ok]

    @property
    def commands(self) -> list[dict[str, str]]:
        """Commands set for the default scope and no language."""
        return self.commands_for()

    def commands_for(
        self, scope: dict[str, Any] | None = None, language_code: str = ""
    ) -> list[dict[str, str]]:
        """Commands set for a scope (``{"type": "default"}`` if None) and language."""
        return list(self._commands.get(self._commands_key(scope, language_code), []))

    @property
    def pending_update_ids(self) -> list[int]:
        """Updates not yet confirmed by the bot (re-deliveries first)."""
        forced = [f.update["update_id"] for f in self._forced if not f.delivered]
        return forced + [update["update_id"] for update in self._queue]

    def delivery_count(self, update_id: int) -> int:
        """How many ``getUpdates`` answers carried this update."""
        return self._delivery_counts[update_id]

    async def wait_for(
        self,
        predicate: Callable[[], T | None] | Callable[[], Awaitable[T | None]],
        timeout: float = 5.0,  # noqa: ASYNC109 - the documented test-helper signature
        message: str = "",
    ) -> T:
        """Wait until ``predicate()`` is truthy and return its value.

        Re-checked whenever the fake records something (and every 50 ms). A predicate may
        also raise AssertionError (or IndexError/KeyError) to mean "not yet". On timeout
        raises AssertionError with a dump of the recorded state.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        last_error: Exception | None = None
        while True:
            changed = self._changed.current()
            try:
                value = predicate()
                if inspect.isawaitable(value):
                    value = await value
                if value:
                    return value
            except (AssertionError, LookupError) as exc:
                last_error = exc
            remaining = deadline - loop.time()
            if remaining <= 0:
                detail = f"\nlast error: {last_error!r}" if last_error else ""
                raise AssertionError(
                    f"wait_for timed out after {timeout}s{': ' + message if message else ''}"
                    f"{detail}\n{self.dump()}"
                )
            with suppress(TimeoutError):
                await asyncio.wait_for(changed.wait(), min(remaining, 0.05))

    def dump(self, calls: int = 20) -> str:
        """A readable summary of chats and the latest calls (getUpdates left out)."""
        lines = ["FakeTelegramAPI state:"]
        for chat in self.store.chats.values():
            name = chat.title or chat.first_name or ""
            lines.append(
                f"  chat {chat.id} ({chat.type} {name}){' BLOCKED' if chat.blocked else ''}:"
            )
            for msg in chat.messages.values():
                who = "bot " if msg.from_bot else "user"
                flags = f" [edited {len(msg.history)}x]" if msg.history else ""
                flags += " [deleted]" if msg.deleted else ""
                buttons = f" buttons={msg.buttons()}" if msg.buttons() else ""
                lines.append(
                    f"    #{msg.message_id} {who} {msg.kind}: {msg.content!r}{buttons}{flags}"
                )
        recent = [call for call in self.sent if call.method != "getUpdates"][-calls:]
        lines.append(f"  last {len(recent)} calls (getUpdates omitted):")
        for call in recent:
            params = {k: v for k, v in call.params.items() if k != "reply_markup"}
            outcome = call.status if call.ok else f"{call.status} {call.error}"
            lines.append(f"    {call.method} {params} -> {outcome}")
        lines.append(f"  pending updates: {self.pending_update_ids}")
        lines.append(f"  answered callbacks: {len(self.answered_callbacks)}")
        return "\n".join(lines)

    # ----------------------------------------------------------------- HTTP plumbing

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        if request.path.startswith("/file/bot"):
            return self._download(request.path)
        match = _METHOD_PATH.fullmatch(request.path)
        if match is None:
            return web.json_response(ApiError(404, "Not Found").payload(), status=404)
        token, method = match.groups()
        name, handler = self._methods.get(method.lower(), (method, None))
        call = ApiCall(method=name, params={}, at=self._clock())
        self.sent.append(call)
        self._calls_by_method.setdefault(name.lower(), []).append(call)
        try:
            call.params, call.files = await self._read_params(request)
            if token != self.token:
                raise ApiError(401, "Unauthorized")
            if handler is None:
                raise ApiError(404, "Not Found")
            if self._failures.get(name.lower()):
                self._failures[name.lower()] -= 1
                raise ApiError(500, "Internal Server Error")
            gate = self._holds.get(name.lower())
            if gate is not None:
                await gate.wait()
            flood = self._flood if name in FLOOD_METHODS else None
            if flood is not None:
                try:
                    flood.check(call.params.get("chat_id"), time.monotonic())
                except ApiError:
                    self.flood_hits += 1
                    raise
            call.result = await handler(call.params, call.files)
            if flood is not None:
                flood.record(call.params.get("chat_id"), time.monotonic())
        except ApiError as exc:
            call.status, call.error = exc.status, exc.description
            self._changed.fire()
            return web.json_response(exc.payload(), status=exc.status)
        except asyncio.CancelledError:
            call.error = "client went away"
            raise
        call.status = 200
        self._changed.fire()
        watchers = self._watchers.get(call.params.get("chat_id"))
        if watchers:
            for queue in watchers:
                queue.put_nowait(call)
        return web.json_response({"ok": True, "result": call.result})

    async def _read_params(self, request: web.Request) -> tuple[Params, dict[str, Upload]]:
        raw: dict[str, Any] = dict(request.query)
        files: dict[str, Upload] = {}
        if request.can_read_body:
            if request.content_type == "application/json":
                try:
                    body = await request.json()
                except ValueError:
                    raise bad_request("can't parse JSON object") from None
                if not isinstance(body, dict):
                    raise bad_request("JSON object expected")
                raw.update(body)
            else:
                for key, value in (await request.post()).items():
                    if isinstance(value, web.FileField):
                        files[key] = Upload(
                            key, value.filename, value.content_type, value.file.read()
                        )
                    else:
                        raw[key] = value
        return {key: coerce_param(key, value) for key, value in raw.items()}, files

    def _download(self, path: str) -> web.Response:
        prefix = f"/file/bot{self.token}/"
        stored = (
            self.files.by_path.get(path.removeprefix(prefix)) if path.startswith(prefix) else None
        )
        if stored is None:
            return web.json_response(ApiError(404, "Not Found").payload(), status=404)
        self.downloads.append(stored.file_path)
        self._changed.fire()
        return web.Response(
            body=stored.data, content_type=stored.mime_type or "application/octet-stream"
        )

    # ----------------------------------------------------------------- updates

    def _enqueue(self, update: dict[str, Any]) -> int:
        if "update_id" not in update:
            update = {"update_id": self._next_update_id, **update}
        update_id = int(update["update_id"])
        self._next_update_id = max(self._next_update_id, update_id + 1)
        self._all_updates[update_id] = update
        kind = next((key for key in update if key != "update_id"), "")
        allowed = self._allowed_updates
        if (kind in _OPT_IN_UPDATES) if allowed is None else (kind not in allowed):
            self.dropped_updates.append(update)
        else:
            if self._queue and self._queue[-1]["update_id"] > update_id:
                bisect.insort(self._queue, update, key=lambda u: u["update_id"])
            else:
                self._queue.append(update)
            self._updates.fire()
        self._changed.fire()
        return update_id

    def post_user_message(self, user: FakeUser, chat_id: int | None, **content: Any) -> int:
        """Store a message from ``user`` and queue its update (used by :class:`FakeUser`)."""
        chat = self.chat(user.id if chat_id is None else chat_id)
        msg = self.store.store(chat, user.to_api(), from_bot=False, **content)
        return self._enqueue({"message": self.store.message_api(msg)})

    def post_callback_query(self, user: FakeUser, message: StoredMessage, data: str) -> int:
        """Queue a button press on ``message`` (used by :class:`FakeUser`)."""
        query = self.store.new_callback_query(user.to_api(), message, data)
        return self._enqueue({"callback_query": query})

    def _confirm(self, offset: int) -> None:
        if offset > 0:
            self._queue = [update for update in self._queue if update["update_id"] >= offset]
        elif offset < 0:
            self._queue = self._queue[offset:]

    def _collect(self, offset: int, limit: int) -> tuple[list[_Forced], list[dict[str, Any]]]:
        forced = [item for item in self._forced if not item.delivered][:limit]
        queued = [u for u in self._queue if offset <= 0 or u["update_id"] >= offset]
        return forced, queued[: limit - len(forced)]

    # ----------------------------------------------------------------- API methods

    async def _get_me(self, params: Params, files: dict[str, Upload]) -> Any:
        return {
            **self.bot_user,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    async def _get_updates(self, params: Params, files: dict[str, Upload]) -> Any:
        if self.webhook:
            raise ApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; "
                "use deleteWebhook to delete the webhook first",
            )
        offset = int(params.get("offset") or 0)
        limit = min(100, max(1, int(params.get("limit") or 100)))
        timeout = max(0.0, float(params.get("timeout") or 0))
        allowed = params.get("allowed_updates")
        if isinstance(allowed, list):
            self._allowed_updates = set(allowed) or None
        self._poll_generation += 1
        generation = self._poll_generation
        self._updates.fire()  # an older long poll ends with 409 Conflict
        self._forced = [item for item in self._forced if not item.delivered]
        self._confirm(offset)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            if generation != self._poll_generation:
                self.conflicts += 1
                raise ApiError(
                    409,
                    "Conflict: terminated by other getUpdates request; "
                    "make sure that only one bot instance is running",
                )
            arrived = self._updates.current()
            forced, queued = self._collect(offset, limit)
            remaining = deadline - loop.time()
            if forced or queued or self._closing or remaining <= 0:
                break
            with suppress(TimeoutError):
                await asyncio.wait_for(arrived.wait(), remaining)
        for item in forced:
            item.delivered = True
        batch = [item.update for item in forced] + queued
        handed_out = time.perf_counter()
        for update in batch:
            self._delivery_counts[update["update_id"]] += 1
            self.first_delivered.setdefault(update["update_id"], handed_out)
        if batch:
            self.deliveries.append([update["update_id"] for update in batch])
        return copy.deepcopy(batch)

    async def _delete_webhook(self, params: Params, files: dict[str, Upload]) -> Any:
        self.webhook = None
        if params.get("drop_pending_updates"):
            self._queue.clear()
            self._forced.clear()
        return True

    async def _set_webhook(self, params: Params, files: dict[str, Upload]) -> Any:
        url = str(params.get("url") or "")
        if not url:
            return await self._delete_webhook(params, files)
        if not url.startswith("https://"):
            raise bad_request("bad webhook: An HTTPS URL must be provided for webhook")
        secret = params.get("secret_token")
        if secret is not None and not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", str(secret)):
            raise bad_request("bad webhook: secret token contains unallowed characters")
        if params.get("drop_pending_updates"):
            self._queue.clear()
        if isinstance(params.get("allowed_updates"), list):
            self._allowed_updates = set(params["allowed_updates"]) or None
        self.webhook = {k: v for k, v in params.items() if k != "drop_pending_updates"}
        return True

    async def _get_webhook_info(self, params: Params, files: dict[str, Upload]) -> Any:
        info: dict[str, Any] = {
            "url": (self.webhook or {}).get("url", ""),
            "has_custom_certificate": False,
            "pending_update_count": len(self._queue),
        }
        if self.webhook:
            info["max_connections"] = self.webhook.get("max_connections", 40)
            if self._allowed_updates:
                info["allowed_updates"] = sorted(self._allowed_updates)
        return info

    @staticmethod
    def _commands_key(scope: Any, language_code: Any) -> tuple[str, str]:
        return json.dumps(scope or {"type": "default"}, sort_keys=True), str(language_code or "")

    async def _set_my_commands(self, params: Params, files: dict[str, Upload]) -> Any:
        commands = check_commands(params.get("commands"))
        self._commands[self._commands_key(params.get("scope"), params.get("language_code"))] = (
            commands
        )
        return True

    async def _get_my_commands(self, params: Params, files: dict[str, Upload]) -> Any:
        key = self._commands_key(params.get("scope"), params.get("language_code"))
        return self._commands.get(key, [])

    async def _delete_my_commands(self, params: Params, files: dict[str, Upload]) -> Any:
        self._commands.pop(
            self._commands_key(params.get("scope"), params.get("language_code")), None
        )
        return True


@asynccontextmanager
async def running(
    application: Application,  # type: ignore[type-arg]
    *,
    poll_timeout: int = 1,
    **polling_kwargs: Any,
) -> AsyncIterator[Application]:  # type: ignore[type-arg]
    """Run a PTB ``Application`` by polling for the duration of the block, then stop it.

    Order: initialize, ``updater.start_polling(poll_interval=0, timeout=poll_timeout)``,
    ``start``; on exit ``updater.stop``, ``stop``, shutdown.
    """
    async with application:
        assert application.updater is not None, "the Application was built without an updater"
        await application.updater.start_polling(
            poll_interval=0, timeout=poll_timeout, **polling_kwargs
        )
        try:
            await application.start()
            try:
                yield application
            finally:
                await application.updater.stop()  # first, so nothing is fetched but unhandled
                await application.stop()
        finally:
            if application.updater.running:
                await application.updater.stop()
