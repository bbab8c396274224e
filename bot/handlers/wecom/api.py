"""A small client for the WeCom server API a self-built app's bot uses.

``gettoken`` (the token is cached until shortly before it expires and fetched again after
40014 / 42001, with one retry of the call), ``message/send``, ``message/update_template_card``,
``media/upload`` and ``media/get``. Every failure is a :class:`WeComAPIError` that says whether
retrying can help. Neither the corp secret nor the access token ever appears in an error or a
log line: both travel only in query strings, and aiohttp errors are reduced to their class name.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any

import aiohttp

log = logging.getLogger(__name__)

# Codes of WeCom's global error-code page (developer.work.weixin.qq.com/document/path/90313)
# this bot can meet, with what they mean for the operator.
ERRCODES: dict[int, str] = {
    -1: "system busy, try again later",
    40001: "invalid secret: check PINJIAN_WECOM_SECRET",
    40003: "invalid UserID",
    40005: "invalid media type",
    40007: "invalid media_id (expired or unknown)",
    40008: "invalid message type",
    40013: "invalid CorpID: check PINJIAN_WECOM_CORP_ID",
    40014: "invalid access_token",
    40056: "invalid agentid: check PINJIAN_WECOM_AGENT_ID",
    40058: "invalid parameter",
    41001: "access_token missing",
    42001: "access_token expired",
    42014: "invalid task_id",
    42018: "invalid button key",
    42019: "button key missing",
    42020: "button name missing",
    44001: "empty media file",
    44004: "empty text content",
    45001: "media file too large",
    45009: "API call frequency over the limit",
    45033: "too many concurrent API calls",
    48002: "API forbidden for this app",
    60011: "no permission for this member",
    60020: "server IP not in the app's trusted IP list (企业可信IP)",
    60140: "response_code invalid or already used",
    81013: "no valid recipient (member not in the app's visible range)",
}
TOKEN_ERRORS = frozenset({40014, 42001})
# Retrying later helps: a busy server, rate limits, and set-up problems an admin can fix
# without the message being wrong (secret, IP allow-list).
BACKOFF_SECONDS: dict[int, float | None] = {
    -1: None,
    40014: None,  # still refused after fetching a new token: try again later
    42001: None,
    45009: 60.0,
    45033: 5.0,
    40001: 300.0,
    40013: 300.0,
    60020: 300.0,
}
TOKEN_MARGIN_SECONDS = 300
_FILENAME = re.compile(r'filename="?([^";]+)"?')


class WeComAPIError(Exception):
    """A failed API call; ``retryable`` tells the outbox whether to try again later."""

    def __init__(
        self,
        path: str,
        errcode: int | None,
        meaning: str,
        *,
        retryable: bool,
        retry_after: float | None = None,
    ) -> None:
        code = "network" if errcode is None else f"errcode {errcode}"
        super().__init__(f"{path}: {code} ({meaning})")
        self.path = path
        self.errcode = errcode
        self.retryable = retryable
        self.retry_after = retry_after


class MediaTooLarge(Exception):
    """media/get returned more bytes than the caller accepts."""

    def __init__(self, size: int) -> None:
        super().__init__(f"media is larger than accepted ({size} bytes or more)")
        self.size = size


@dataclass(frozen=True)
class SendResult:
    msgid: str
    response_code: str | None


@dataclass(frozen=True)
class Media:
    data: bytes
    content_type: str
    filename: str | None


def _api_error(path: str, errcode: int) -> WeComAPIError:
    meaning = ERRCODES.get(errcode, "unknown error code")
    if errcode in BACKOFF_SECONDS:
        return WeComAPIError(
            path, errcode, meaning, retryable=True, retry_after=BACKOFF_SECONDS[errcode]
        )
    return WeComAPIError(path, errcode, meaning, retryable=False)


def _network_error(path: str, exc: BaseException) -> WeComAPIError:
    # Only the class name: aiohttp messages can carry the request URL and with it the token.
    return WeComAPIError(path, None, exc.__class__.__name__, retryable=True)


class WeComAPI:
    """One app's API client; ``start`` opens the HTTP session and ``close`` ends it."""

    def __init__(
        self,
        base_url: str,
        corp_id: str,
        secret: str,
        agent_id: int,
        *,
        clock: Callable[[], float] = time.monotonic,
        timeout: float = 20.0,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.corp_id = corp_id
        self._secret = secret
        self.agent_id = agent_id
        self._clock = clock
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._session: aiohttp.ClientSession | None = None
        self._token: str | None = None
        self._token_expires = 0.0
        self._token_lock = asyncio.Lock()

    async def start(self) -> None:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=self._timeout)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None:
            raise RuntimeError("WeComAPI is not started")
        return self._session

    def _url(self, path: str) -> str:
        return f"{self.base_url}/cgi-bin/{path}"

    # -- access token -----------------------------------------------------------------------

    async def access_token(self) -> str:
        """The cached token, fetched again shortly before it expires."""
        if self._token is not None and self._clock() < self._token_expires:
            return self._token
        async with self._token_lock:
            if self._token is not None and self._clock() < self._token_expires:
                return self._token
            params = {"corpid": self.corp_id, "corpsecret": self._secret}
            request = self.session.get(self._url("gettoken"), params=params)
            data = await self._json("gettoken", request)
            errcode = int(data.get("errcode", 0))
            if errcode != 0:
                raise self._logged(_api_error("gettoken", errcode))
            token = data.get("access_token")
            if not isinstance(token, str) or not token:
                raise self._logged(
                    WeComAPIError("gettoken", None, "no access_token in answer", retryable=True)
                )
            expires_in = int(data.get("expires_in", 7200))
            margin = min(TOKEN_MARGIN_SECONDS, expires_in // 2)
            self._token, self._token_expires = token, self._clock() + expires_in - margin
            log.info("wecom: fetched an access token valid for %ss", expires_in)
            return token

    def _forget_token(self, token: str) -> None:
        if self._token == token:
            self._token = None

    # -- plumbing ---------------------------------------------------------------------------

    @staticmethod
    def _logged(error: WeComAPIError) -> WeComAPIError:
        log.warning("wecom API %s", error)
        return error

    async def _json(
        self, path: str, request: AbstractAsyncContextManager[aiohttp.ClientResponse]
    ) -> dict[str, Any]:
        """Await an aiohttp request and decode WeCom's JSON answer."""
        try:
            async with request as resp:
                if resp.status != 200:
                    raise self._logged(
                        WeComAPIError(path, None, f"HTTP {resp.status}", retryable=True)
                    )
                raw = await resp.read()
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise self._logged(_network_error(path, exc)) from None
        return self._decode(path, raw)

    def _decode(self, path: str, raw: bytes) -> dict[str, Any]:
        try:
            data = json.loads(raw)
        except ValueError:
            data = None
        if not isinstance(data, dict):
            raise self._logged(WeComAPIError(path, None, "answer is not JSON", retryable=True))
        return data

    async def _call(
        self,
        path: str,
        *,
        body: dict[str, Any] | None = None,
        params: dict[str, str] | None = None,
        form: Callable[[], aiohttp.FormData] | None = None,
    ) -> dict[str, Any]:
        """POST to ``path`` with the access token; one retry with a new token on 40014/42001."""

        async def post(token: str) -> tuple[dict[str, Any], int]:
            query = {"access_token": token, **(params or {})}
            data = form() if form is not None else None
            request = self.session.post(self._url(path), params=query, json=body, data=data)
            result = await self._json(path, request)
            return result, int(result.get("errcode", 0))

        token = await self.access_token()
        result, errcode = await post(token)
        if errcode in TOKEN_ERRORS:
            log.info("wecom %s: %s, fetching a new token", path, ERRCODES[errcode])
            self._forget_token(token)
            result, errcode = await post(await self.access_token())
        if errcode != 0:
            raise self._logged(_api_error(path, errcode))
        return result

    # -- endpoints --------------------------------------------------------------------------

    async def send(self, userid: str, message: dict[str, Any]) -> SendResult:
        """message/send to one member; ``message`` holds msgtype and its section."""
        body = {"touser": userid, "agentid": self.agent_id, **message}
        result = await self._call("message/send", body=body)
        if result.get("invaliduser"):
            raise self._logged(_api_error("message/send", 81013))
        code = result.get("response_code")
        return SendResult(str(result.get("msgid", "")), code if isinstance(code, str) else None)

    async def update_template_card(
        self, userid: str, response_code: str, update: dict[str, Any]
    ) -> None:
        """Replace a card in place; ``update`` is ``{"template_card": …}`` or ``{"button": …}``."""
        body = {
            "userids": [userid],
            "agentid": self.agent_id,
            "response_code": response_code,
            **update,
        }
        await self._call("message/update_template_card", body=body)

    async def upload_media(self, kind: str, data: bytes, filename: str, content_type: str) -> str:
        """media/upload (temporary media, valid 3 days); returns the media_id."""

        def form() -> aiohttp.FormData:
            # WeCom reads the file name as raw UTF-8 (filename="检查报告.xlsx"), not the
            # percent-encoded form aiohttp sends by default.
            fields = aiohttp.FormData(quote_fields=False)
            fields.add_field("media", data, filename=filename, content_type=content_type)
            return fields

        result = await self._call("media/upload", params={"type": kind}, form=form)
        media_id = result.get("media_id")
        if not isinstance(media_id, str) or not media_id:
            raise self._logged(WeComAPIError("media/upload", None, "no media_id", retryable=True))
        return media_id

    async def get_media(self, media_id: str, *, max_bytes: int) -> Media:
        """media/get: download what a member sent; MediaTooLarge past ``max_bytes``."""
        token = await self.access_token()
        result = await self._fetch_media(token, media_id, max_bytes)
        if isinstance(result, int) and result in TOKEN_ERRORS:
            log.info("wecom media/get: %s, fetching a new token", ERRCODES[result])
            self._forget_token(token)
            result = await self._fetch_media(await self.access_token(), media_id, max_bytes)
        if isinstance(result, int):
            raise self._logged(_api_error("media/get", result))
        return result

    async def _fetch_media(self, token: str, media_id: str, max_bytes: int) -> Media | int:
        """The media, or WeCom's errcode when it answered with an error instead."""
        path = "media/get"
        params = {"access_token": token, "media_id": media_id}
        try:
            async with self.session.get(self._url(path), params=params) as resp:
                if resp.status != 200:
                    raise self._logged(
                        WeComAPIError(path, None, f"HTTP {resp.status}", retryable=True)
                    )
                if resp.content_type in ("application/json", "text/plain"):
                    return int(self._decode(path, await resp.read()).get("errcode", 40007)) or 40007
                return await self._read_media(resp, max_bytes)
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise self._logged(_network_error(path, exc)) from None

    @staticmethod
    async def _read_media(resp: aiohttp.ClientResponse, max_bytes: int) -> Media:
        if resp.content_length is not None and resp.content_length > max_bytes:
            raise MediaTooLarge(resp.content_length)
        chunks: list[bytes] = []
        size = 0
        async for chunk in resp.content.iter_chunked(64 * 1024):
            size += len(chunk)
            if size > max_bytes:
                raise MediaTooLarge(size)
            chunks.append(chunk)
        match = _FILENAME.search(resp.headers.get("Content-Disposition", ""))
        return Media(b"".join(chunks), resp.content_type, match.group(1) if match else None)
