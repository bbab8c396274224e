"""The WeCom callback endpoint: ``GET`` answers URL verification, ``POST`` takes messages.

Everything is checked before anything is processed, in this order: the size (64 KB), the
query parameters, the XML envelope (no DTDs or entities), the signature, the timestamp
(±5 minutes), then decryption (base64, PKCS#7 padding, CorpID) and the inner XML. A refusal
is a bare 4xx and one log line naming the reason: no traceback, no request content, no
secret. An accepted message is handed to ``accept`` and answered with an empty 200 at once,
well inside WeCom's 5 seconds; it is processed in the background.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from aiohttp import web

from bot.handlers.wecom.crypto import (
    MAX_TIMESTAMP_DIGITS,
    BadCorpId,
    BadSignature,
    BadTimestamp,
    WeComCrypto,
    WeComCryptoError,
)
from bot.handlers.wecom.xmlmsg import MAX_XML_BYTES, WeComIncoming, WeComXMLError, parse_message

log = logging.getLogger(__name__)

PATH = "/wecom/callback"
MAX_SKEW_SECONDS = 300
_FORBIDDEN = (BadSignature, BadTimestamp, BadCorpId)


class Rejected(Exception):
    """A callback request refused before any processing."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


@dataclass
class CallbackEndpoint:
    """The two handlers of ``/wecom/callback`` for one app.

    ``accept`` takes a decrypted message and returns False while the bot is stopping (the
    request then gets a 503, and WeCom delivers it again later).
    """

    crypto: WeComCrypto
    agent_id: int | None
    accept: Callable[[WeComIncoming], bool]
    clock: Callable[[], float]
    max_skew: int = MAX_SKEW_SECONDS

    def routes(self, app: web.Application) -> None:
        app.router.add_get(PATH, self.verify)
        app.router.add_post(PATH, self.receive)

    async def verify(self, request: web.Request) -> web.Response:
        """URL verification: the decrypted echostr as plain text."""
        try:
            signature, timestamp, nonce = self._params(request)
            echostr = request.query.get("echostr", "")
            if not echostr:
                raise Rejected(400, "missing echostr")
            self._check_time(timestamp)
            plain = self.crypto.verify_url(signature, timestamp, nonce, echostr)
        except (Rejected, WeComCryptoError) as exc:
            return self._refuse("URL verification", exc)
        return web.Response(text=plain, content_type="text/plain")

    async def receive(self, request: web.Request) -> web.Response:
        """An encrypted message or event: check, decrypt, hand over, answer at once."""
        try:
            signature, timestamp, nonce = self._params(request)
            body = await self._body(request)
            plaintext = self.crypto.decrypt_message(
                signature, timestamp, nonce, body, now=self.clock(), max_skew=self.max_skew
            )
            message = parse_message(plaintext)
        except (Rejected, WeComCryptoError, WeComXMLError) as exc:
            return self._refuse("message", exc)
        if self.agent_id is not None and message.agent_id not in (None, self.agent_id):
            log.info("wecom callback for agent %s ignored (not this app)", message.agent_id)
            return web.Response(text="")
        if not self.accept(message):
            return web.Response(status=503)
        return web.Response(text="")

    @staticmethod
    def _params(request: web.Request) -> tuple[str, str, str]:
        query = request.query
        values = (
            query.get("msg_signature", ""),
            query.get("timestamp", ""),
            query.get("nonce", ""),
        )
        if not all(values):
            raise Rejected(400, "missing msg_signature, timestamp or nonce")
        return values

    def _check_time(self, timestamp: str) -> None:
        if (
            not timestamp.isascii()
            or not timestamp.isdigit()
            or len(timestamp) > MAX_TIMESTAMP_DIGITS
        ):
            raise Rejected(403, "timestamp is not an integer of at most 12 digits")
        if abs(self.clock() - int(timestamp)) > self.max_skew:
            raise Rejected(403, "timestamp too far from now")

    @staticmethod
    async def _body(request: web.Request) -> bytes:
        length = request.content_length
        if length is not None and length > MAX_XML_BYTES:
            raise Rejected(413, "body too large")
        body = bytearray()
        async for chunk in request.content.iter_chunked(16 * 1024):
            body.extend(chunk)
            if len(body) > MAX_XML_BYTES:
                raise Rejected(413, "body too large")
        return bytes(body)

    @staticmethod
    def _refuse(what: str, exc: Exception) -> web.Response:
        if isinstance(exc, Rejected):
            status, reason = exc.status, exc.reason
        elif isinstance(exc, _FORBIDDEN):
            status, reason = 403, str(exc)
        else:
            status, reason = 400, str(exc)
        log.warning("wecom callback %s refused (%s): %s", what, status, reason)
        return web.Response(status=status)
