"""An in-process fake of the WeCom server API for tests, served on 127.0.0.1 (free port).

Covers what a self-built app's bot calls: ``gettoken``, ``message/send`` (text, markdown,
image, file, template_card), ``message/update_template_card``, ``media/upload`` and
``media/get``; and a group robot's webhook: ``webhook/send`` (text with ``mentioned_list`` /
``mentioned_mobile_list``, markdown, image as base64 + md5, file) and ``webhook/upload_media``,
keyed by the robot's ``key`` instead of an access token, at most 20 messages a minute per
robot (``45009`` beyond), ``93000`` for a key no robot has (removed from its group).
Errors use WeCom's shape ``{"errcode": N, "errmsg": "..."}`` with HTTP 200,
and the codes of WeCom's global error-code page (developer.work.weixin.qq.com/document/
path/90313, as mirrored in xen0n/go-workwx errcodes/mod.go). Where that page has no exact
code the fake's choice is marked "fake's choice" below.

Usage::

    async with FakeWeComAPI("corp", "secret") as fake:
        base_url = fake.url  # stands in for https://qyapi.weixin.qq.com
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
import time
from collections import defaultdict, deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Self

from aiohttp import BodyPartReader, hdrs, web

TOKEN_TTL = 7200
ROBOT_LIMIT_PER_MINUTE = 20
MAX_ROBOT_IMAGE_BYTES = 2 * 1024 * 1024
MAX_ROBOT_FILE_BYTES = 20 * 1024 * 1024
MEMBER_LIMIT_PER_MINUTE = 30
# WeCom truncates text and markdown content beyond this many UTF-8 bytes.
MAX_CONTENT_BYTES = 2048
MAX_BUTTONS = 6
MAX_BUTTON_KEY_BYTES = 1024
# 上传临时素材: image 10MB, voice 2MB, video 10MB, file 20MB.
MAX_UPLOAD_BYTES = {
    "image": 10 * 1024 * 1024,
    "voice": 2 * 1024 * 1024,
    "video": 10 * 1024 * 1024,
    "file": 20 * 1024 * 1024,
}
_TASK_ID_RE = re.compile(r"[A-Za-z0-9_\-@]{1,128}")
_CARD_TYPES = {
    "text_notice",
    "news_notice",
    "button_interaction",
    "vote_interaction",
    "multiple_interaction",
}
# Card types whose send result carries a response_code (one use, for update_template_card).
_INTERACTIVE_CARDS = {"button_interaction", "vote_interaction", "multiple_interaction"}

ERRMSG = {
    -1: "system busy",
    40001: "invalid credential",
    40005: "invalid media type",
    40007: "invalid media_id",
    40008: "invalid message type",
    40013: "invalid corpid",
    40014: "invalid access_token",
    40056: "invalid agentid",
    40058: "invalid parameter",
    41001: "access_token missing",
    41002: "corpid missing",
    41004: "corpsecret missing",
    41006: "media_id missing",
    41011: "agentid missing",
    42001: "access_token expired",
    42014: "invalid task_id",
    42018: "invalid button key",
    42019: "button key missing",
    42020: "button name missing",
    44001: "empty media data",
    44004: "empty content",
    45001: "media size out of limit",
    45009: "api freq out of limit",
    60140: "invalid response_code",
    93000: "invalid webhook url",
}

_Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class _Rejected(Exception):
    """Raised inside a handler to answer with a WeCom error."""

    def __init__(self, errcode: int) -> None:
        super().__init__(errcode)
        self.errcode = errcode


def _error(errcode: int, errmsg: str | None = None) -> web.Response:
    return web.json_response({"errcode": errcode, "errmsg": errmsg or ERRMSG.get(errcode, "")})


def _section(body: dict[str, Any], name: str) -> dict[str, Any]:
    value = body.get(name)
    return value if isinstance(value, dict) else {}


def _truncate_utf8(text: str, limit: int) -> str:
    return text.encode()[:limit].decode(errors="ignore")


@dataclass(frozen=True)
class SentMessage:
    """One message to one member, as the fake received it."""

    userid: str
    msgtype: str
    msgid: str
    at: float
    dropped: bool
    # Text or markdown as the member sees it (after WeCom's truncation), else None.
    content: str | None
    task_id: str | None
    response_code: str | None
    body: dict[str, Any]


@dataclass(frozen=True)
class RobotMessage:
    """One message a group robot posted, as the fake received it."""

    key: str
    msgtype: str
    at: float
    content: str | None
    mentioned: tuple[str, ...]
    mentioned_mobiles: tuple[str, ...]
    data: bytes | None
    """An image's bytes or a file's."""
    filename: str | None


@dataclass(frozen=True)
class CardUpdate:
    response_code: str
    task_id: str
    at: float
    body: dict[str, Any]


@dataclass(frozen=True)
class Media:
    data: bytes
    content_type: str
    filename: str


class FakeWeComAPI:
    """Fake WeCom API with test controls (token expiry, injected errors, member limit)."""

    def __init__(
        self,
        corp_id: str,
        secret: str,
        *,
        agent_id: int | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.corp_id = corp_id
        self.secret = secret
        self.agent_id = agent_id
        self._clock = clock
        self._runner: web.AppRunner | None = None
        self._port: int | None = None
        self._tokens: dict[str, float] = {}  # access_token -> expiry time
        self._failures: deque[tuple[int, str | None]] = deque()
        self._limit_members = False
        self._member_sends: defaultdict[str, deque[float]] = defaultdict(deque)
        self._sent: list[SentMessage] = []
        self._task_ids: set[str] = set()
        self._response_codes: dict[str, str] = {}  # unused response_code -> task_id
        self._msg_seq = 0
        self.media: dict[str, Media] = {}
        self.card_updates: list[CardUpdate] = []
        self.calls: list[str] = []  # request paths, in order
        self._robots: set[str] = set()
        self.robot_messages: list[RobotMessage] = []
        self.robot_refusals: list[tuple[str, int]] = []  # (key, errcode) of refused sends
        self._robot_sends: defaultdict[str, deque[float]] = defaultdict(deque)

    # -- lifecycle --------------------------------------------------------------------------

    async def __aenter__(self) -> Self:
        app = web.Application(
            middlewares=[self._middleware], client_max_size=max(MAX_UPLOAD_BYTES.values()) * 2
        )
        app.router.add_get("/cgi-bin/gettoken", self._gettoken)
        app.router.add_post("/cgi-bin/message/send", self._send)
        app.router.add_post("/cgi-bin/message/update_template_card", self._update_card)
        app.router.add_post("/cgi-bin/media/upload", self._upload)
        app.router.add_get("/cgi-bin/media/get", self._get_media)
        app.router.add_post("/cgi-bin/webhook/send", self._robot_send)
        app.router.add_post("/cgi-bin/webhook/upload_media", self._robot_upload)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        self._port = self._runner.addresses[0][1]
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    @property
    def url(self) -> str:
        """Base URL standing in for ``https://qyapi.weixin.qq.com``."""
        if self._port is None:
            raise RuntimeError("FakeWeComAPI is not running; use 'async with'")
        return f"http://127.0.0.1:{self._port}"

    # -- test controls ----------------------------------------------------------------------

    def expire_tokens(self) -> None:
        """Expire every issued token: calls with them get 42001 until a new gettoken."""
        now = self._clock()
        for token in self._tokens:
            self._tokens[token] = now

    def fail_next(self, errcode: int, n: int = 1, errmsg: str | None = None) -> None:
        """Answer the next ``n`` requests (any endpoint) with ``errcode``."""
        self._failures.extend([(errcode, errmsg)] * n)

    def enforce_member_limit(self, enabled: bool = True) -> None:
        """Silently drop sends past 30 per member per minute, as WeCom does."""
        self._limit_members = enabled

    def sent_to(self, userid: str) -> list[SentMessage]:
        """Messages addressed to ``userid`` (dropped ones included, ``dropped=True``)."""
        return [m for m in self._sent if m.userid == userid]

    def add_robot(self, key: str) -> None:
        """A group robot with this webhook key."""
        self._robots.add(key)

    def remove_robot(self, key: str) -> None:
        """The robot was removed from its group: its key is invalid from now on (93000)."""
        self._robots.discard(key)

    def posted(self, key: str) -> list[RobotMessage]:
        """What the robot with ``key`` posted, in order."""
        return [m for m in self.robot_messages if m.key == key]

    def add_media(self, data: bytes, content_type: str, filename: str = "media") -> str:
        """Store media as if a member had sent it; returns its media_id."""
        media_id = "media_" + secrets.token_hex(12)
        self.media[media_id] = Media(data, content_type, filename)
        return media_id

    def issue_response_code(self, task_id: str) -> str:
        """A fresh response_code for ``task_id``, like the one in a template_card_event."""
        code = secrets.token_hex(16)
        self._response_codes[code] = task_id
        return code

    # -- plumbing ---------------------------------------------------------------------------

    @web.middleware
    async def _middleware(self, request: web.Request, handler: _Handler) -> web.StreamResponse:
        self.calls.append(request.path)
        if self._failures:
            return _error(*self._failures.popleft())
        if request.path.startswith("/cgi-bin/webhook/"):
            if request.query.get("key", "") not in self._robots:
                return _error(93000)
        elif request.path != "/cgi-bin/gettoken":
            token = request.query.get("access_token", "")
            if not token:
                return _error(41001)
            expires_at = self._tokens.get(token)
            if expires_at is None:
                return _error(40014)
            if self._clock() >= expires_at:
                return _error(42001)
        try:
            return await handler(request)
        except _Rejected as rejected:
            return _error(rejected.errcode)

    async def _json_body(self, request: web.Request) -> dict[str, Any]:
        try:
            body = await request.json()
        except ValueError:
            raise _Rejected(40058) from None  # fake's choice for a non-JSON body
        if not isinstance(body, dict):
            raise _Rejected(40058)
        return body

    def _check_agent(self, body: dict[str, Any]) -> None:
        if "agentid" not in body:
            raise _Rejected(41011)
        if self.agent_id is not None and str(body["agentid"]) != str(self.agent_id):
            raise _Rejected(40056)

    # -- endpoints --------------------------------------------------------------------------

    async def _gettoken(self, request: web.Request) -> web.Response:
        corpid = request.query.get("corpid", "")
        corpsecret = request.query.get("corpsecret", "")
        if not corpid:
            return _error(41002)
        if not corpsecret:
            return _error(41004)
        if corpid != self.corp_id:
            return _error(40013)
        if not secrets.compare_digest(corpsecret, self.secret):
            return _error(40001)
        now = self._clock()
        # Within its validity WeCom hands out the same token again.
        token = next((t for t, exp in self._tokens.items() if exp > now), None)
        if token is None:
            token = secrets.token_urlsafe(48)
            self._tokens[token] = now + TOKEN_TTL
        return web.json_response(
            {"errcode": 0, "errmsg": "ok", "access_token": token, "expires_in": TOKEN_TTL}
        )

    async def _send(self, request: web.Request) -> web.Response:
        body = await self._json_body(request)
        self._check_agent(body)
        users = [u for u in str(body.get("touser", "")).split("|") if u]
        if not users:
            raise _Rejected(40058)  # fake's choice: only touser is supported
        msgtype = body.get("msgtype")
        content: str | None = None
        task_id: str | None = None
        response_code: str | None = None
        if msgtype in ("text", "markdown"):
            content = str(_section(body, msgtype).get("content") or "")
            if not content:
                raise _Rejected(44004)
            content = _truncate_utf8(content, MAX_CONTENT_BYTES)
        elif msgtype in ("image", "file"):
            if _section(body, msgtype).get("media_id") not in self.media:
                raise _Rejected(40007)
        elif msgtype == "template_card":
            task_id, interactive = self._check_card(body.get("template_card"))
            if task_id is not None:
                self._task_ids.add(task_id)
            if interactive and task_id is not None:
                response_code = self.issue_response_code(task_id)
        else:
            raise _Rejected(40008)
        self._msg_seq += 1
        msgid = f"msg_{self._msg_seq}_{secrets.token_hex(6)}"
        now = self._clock()
        for userid in users:
            self._sent.append(
                SentMessage(
                    userid=userid,
                    msgtype=str(msgtype),
                    msgid=msgid,
                    at=now,
                    dropped=self._over_member_limit(userid, now),
                    content=content,
                    task_id=task_id,
                    response_code=response_code,
                    body=body,
                )
            )
        result: dict[str, Any] = {
            "errcode": 0,
            "errmsg": "ok",
            "invaliduser": "",
            "invalidparty": "",
            "invalidtag": "",
            "unlicenseduser": "",
            "msgid": msgid,
        }
        if response_code is not None:
            result["response_code"] = response_code
        return web.json_response(result)

    def _over_member_limit(self, userid: str, now: float) -> bool:
        if not self._limit_members:
            return False
        window = self._member_sends[userid]
        while window and window[0] <= now - 60:
            window.popleft()
        if len(window) >= MEMBER_LIMIT_PER_MINUTE:
            return True
        window.append(now)
        return False

    def _check_card(self, card: object) -> tuple[str | None, bool]:
        """Validate a template_card; returns (task_id, is_interactive)."""
        if not isinstance(card, dict) or card.get("card_type") not in _CARD_TYPES:
            raise _Rejected(40058)
        interactive = card["card_type"] in _INTERACTIVE_CARDS
        task_id = card.get("task_id")
        if task_id is None and interactive:
            raise _Rejected(42014)
        # Fake's choice: a reused task_id is reported as an invalid one (42014).
        if task_id is not None and (
            not isinstance(task_id, str)
            or not _TASK_ID_RE.fullmatch(task_id)
            or task_id in self._task_ids
        ):
            raise _Rejected(42014)
        if card["card_type"] == "button_interaction":
            self._check_buttons(card.get("button_list"))
        return task_id, interactive

    @staticmethod
    def _check_buttons(buttons: object) -> None:
        if not isinstance(buttons, list) or not 1 <= len(buttons) <= MAX_BUTTONS:
            raise _Rejected(40058)  # fake's choice for an empty or > 6 button_list
        keys: set[str] = set()
        for button in buttons:
            if not isinstance(button, dict) or not button.get("text"):
                raise _Rejected(42020)
            key = button.get("key")
            if not key:
                raise _Rejected(42019)
            if not isinstance(key, str) or len(key.encode()) > MAX_BUTTON_KEY_BYTES or key in keys:
                raise _Rejected(42018)
            keys.add(key)

    async def _update_card(self, request: web.Request) -> web.Response:
        body = await self._json_body(request)
        self._check_agent(body)
        code = str(body.get("response_code", ""))
        # Each response_code works once (and WeCom expires it after 72h).
        task_id = self._response_codes.pop(code, None)
        if task_id is None:
            raise _Rejected(60140)
        self.card_updates.append(CardUpdate(code, task_id, self._clock(), body))
        return web.json_response({"errcode": 0, "errmsg": "ok", "invaliduser": []})

    async def _upload(self, request: web.Request) -> web.Response:
        media_type = request.query.get("type", "")
        if media_type not in MAX_UPLOAD_BYTES:
            raise _Rejected(40005)
        if request.content_type != "multipart/form-data":
            raise _Rejected(44001)
        async for part in await request.multipart():
            if isinstance(part, BodyPartReader) and part.name == "media":
                data = await part.read()
                if not data:
                    raise _Rejected(44001)
                if len(data) > MAX_UPLOAD_BYTES[media_type]:
                    raise _Rejected(45001)
                content_type = part.headers.get(hdrs.CONTENT_TYPE, "application/octet-stream")
                media_id = self.add_media(data, content_type, part.filename or "media")
                return web.json_response(
                    {
                        "errcode": 0,
                        "errmsg": "",
                        "type": media_type,
                        "media_id": media_id,
                        "created_at": str(int(self._clock())),
                    }
                )
        raise _Rejected(44001)

    async def _get_media(self, request: web.Request) -> web.Response:
        media_id = request.query.get("media_id", "")
        if not media_id:
            raise _Rejected(41006)
        media = self.media.get(media_id)
        if media is None:
            raise _Rejected(40007)
        return web.Response(
            body=media.data,
            headers={
                hdrs.CONTENT_TYPE: media.content_type,
                hdrs.CONTENT_DISPOSITION: f'attachment; filename="{media.filename}"',
            },
        )

    # -- group robots (webhook) -------------------------------------------------------------

    async def _robot_send(self, request: web.Request) -> web.Response:
        key = request.query["key"]
        body = await self._json_body(request)
        now = self._clock()
        window = self._robot_sends[key]
        while window and window[0] <= now - 60:
            window.popleft()
        if len(window) >= ROBOT_LIMIT_PER_MINUTE:
            self.robot_refusals.append((key, 45009))
            raise _Rejected(45009)
        msgtype = body.get("msgtype")
        section = _section(body, str(msgtype))
        content: str | None = None
        data: bytes | None = None
        filename: str | None = None
        if msgtype in ("text", "markdown"):
            content = str(section.get("content") or "")
            if not content:
                raise _Rejected(44004)
            if len(content.encode()) > (2048 if msgtype == "text" else 4096):
                raise _Rejected(40058)  # fake's choice: the robot refuses over-long content
        elif msgtype == "image":
            try:
                data = base64.b64decode(str(section.get("base64", "")), validate=True)
            except ValueError:
                raise _Rejected(40058) from None
            if not data or hashlib.md5(data).hexdigest() != section.get("md5"):
                raise _Rejected(40058)
            if len(data) > MAX_ROBOT_IMAGE_BYTES:
                raise _Rejected(45001)
        elif msgtype == "file":
            media = self.media.get(str(section.get("media_id", "")))
            if media is None:
                raise _Rejected(40007)
            data, filename = media.data, media.filename
        else:
            raise _Rejected(40008)
        window.append(now)
        mentioned = section.get("mentioned_list") or []
        mobiles = section.get("mentioned_mobile_list") or []
        self.robot_messages.append(
            RobotMessage(
                key=key,
                msgtype=str(msgtype),
                at=now,
                content=content,
                mentioned=tuple(str(m) for m in mentioned),
                mentioned_mobiles=tuple(str(m) for m in mobiles),
                data=data,
                filename=filename,
            )
        )
        return web.json_response({"errcode": 0, "errmsg": "ok"})

    async def _robot_upload(self, request: web.Request) -> web.Response:
        if request.query.get("type") not in ("file", "voice"):
            raise _Rejected(40005)
        if request.content_type != "multipart/form-data":
            raise _Rejected(44001)
        async for part in await request.multipart():
            if isinstance(part, BodyPartReader) and part.name == "media":
                data = await part.read()
                if len(data) <= 5:
                    raise _Rejected(44001)
                if len(data) > MAX_ROBOT_FILE_BYTES:
                    raise _Rejected(45001)
                content_type = part.headers.get(hdrs.CONTENT_TYPE, "application/octet-stream")
                media_id = self.add_media(bytes(data), content_type, part.filename or "media")
                return web.json_response(
                    {
                        "errcode": 0,
                        "errmsg": "ok",
                        "type": "file",
                        "media_id": media_id,
                        "created_at": str(int(self._clock())),
                    }
                )
        raise _Rejected(44001)
