"""WeCom group robots (群机器人): posting a site's project-group messages through the robot's
webhook (`/cgi-bin/webhook/send`, files through `/cgi-bin/webhook/upload_media`).

The robot's key is a secret: it is read from the database at each send, sent only in the
request's query, and never written to a log line or an error (errors name the group's id).
A robot takes at most 20 messages a minute; a row that does not fit is handed back to the
outbox until it does (`NotReady`: no attempt is counted, nothing is dropped, the group's later
rows wait behind it). An invalid key (the robot was removed) marks the group inactive.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
from typing import Any

import aiohttp
from aiohttp import web

from bot.core.messages import Outgoing
from bot.delivery import Delivery, DeliveryError, NotReady
from bot.flows import group_posts
from bot.handlers.wecom.pacing import MemberPacer
from bot.handlers.wecom.render import split_utf8, text_content
from storage.db import Database
from storage.evidence import EvidenceStore
from storage.records import Channel, ChatGroup, OutboxKind

log = logging.getLogger(__name__)

ROBOT_LIMIT = 20
"""Messages a minute one group robot takes."""
MAX_IMAGE_BYTES = 2 * 1024 * 1024
"""An image message carries at most 2 MB (before base64); larger photos go as files."""
INVALID_KEY = frozenset({93000})
"""errcode of a webhook whose robot was removed (invalid webhook url)."""
FREQUENCY = 45009


class WebhookFailed(Exception):
    def __init__(self, errcode: int | None, reason: str) -> None:
        super().__init__(reason)
        self.errcode = errcode


class WeComGroupChannel:
    """The sender of `Channel.WECOM_GROUP` rows (chat id `g<group id>`); it receives
    nothing."""

    name = Channel.WECOM_GROUP
    independent: frozenset[OutboxKind] = frozenset()

    def __init__(
        self,
        db: Database,
        files: EvidenceStore,
        api_url: str,
        *,
        pacer: MemberPacer | None = None,
        timeout: float = 20.0,
    ) -> None:
        self.db = db
        self.files = files
        self.base_url = api_url.rstrip("/")
        self.pacer = pacer or MemberPacer(limit=ROBOT_LIMIT)
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=self._timeout)

    def routes(self, app: web.Application) -> None:
        """None: a robot is only posted to."""

    async def stop(self) -> None:
        """Nothing to stop: a robot is only posted to."""

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def send(self, delivery: Delivery) -> str | None:
        message = delivery.outgoing
        group = await self._group(message.group.group_id if message.group else None)
        if group is None or group.webhook_key is None:
            raise DeliveryError("group inactive", permanent=True, logged=True)
        robot = str(group.id)
        key = group.webhook_key
        try:
            bodies = await self._bodies(message, key)
            wait = self.pacer.delay(robot, len(bodies))
            if wait > 0:
                raise NotReady(wait)
            for body in bodies:
                async with self.pacer.slot(robot):
                    await self._post(key, "send", json_body=body)
        except WebhookFailed as exc:
            if exc.errcode in INVALID_KEY:
                await group_posts.gone(self.db, group.id, "wecom: invalid webhook key")
                raise DeliveryError("robot removed", permanent=True, logged=True) from None
            if exc.errcode == FREQUENCY:
                raise NotReady(60.0) from None
            raise DeliveryError(f"group {group.id}: {exc}") from None
        return None

    async def _group(self, group_id: int | None) -> ChatGroup | None:
        if group_id is None:
            return None
        async with self.db.read() as tx:
            group = await tx.groups.get(group_id)
        return group if group is not None and group.active else None

    async def _bodies(self, message: Outgoing, key: str) -> list[dict[str, Any]]:
        """The webhook messages of one row, in order: photos, a file, then the text."""
        bodies: list[dict[str, Any]] = []
        if message.kind is OutboxKind.SEND_PHOTO:
            for sha256 in message.photos:
                data = await self.files.get(sha256)
                if len(data) <= MAX_IMAGE_BYTES:
                    bodies.append(_image(data))
                else:
                    media = await self._upload(key, data, f"{sha256[:12]}.jpg")
                    bodies.append({"msgtype": "file", "file": {"media_id": media}})
        elif message.kind is OutboxKind.SEND_DOCUMENT and message.document:
            data = await self.files.get(message.document)
            name = message.document_name or "file"
            media = await self._upload(key, data, name)
            bodies.append({"msgtype": "file", "file": {"media_id": media}})
        if message.text:
            parts = split_utf8(text_content(message.text))
            group = message.group
            named = {
                "mentioned_list": group.userids if group else (),
                "mentioned_mobile_list": group.mobiles if group else (),
            }
            for index, part in enumerate(parts):
                content: dict[str, Any] = {"content": part}
                if index == len(parts) - 1:
                    content |= {field: list(names) for field, names in named.items() if names}
                bodies.append({"msgtype": "text", "text": content})
        return bodies

    async def _upload(self, key: str, data: bytes, filename: str) -> str:
        # WeCom reads the file name as raw UTF-8 (filename="通报.pdf"), not percent-encoded.
        form = aiohttp.FormData(quote_fields=False)
        form.add_field("media", data, filename=filename, content_type="application/octet-stream")
        answer = await self._post(key, "upload_media", params={"type": "file"}, form=form)
        media = answer.get("media_id")
        if not isinstance(media, str):
            raise WebhookFailed(None, "upload_media: no media_id")
        return media

    async def _post(
        self,
        key: str,
        path: str,
        *,
        json_body: dict[str, Any] | None = None,
        params: dict[str, str] | None = None,
        form: aiohttp.FormData | None = None,
    ) -> dict[str, Any]:
        """One webhook call; WebhookFailed names the path and errcode, never the key."""
        if self._session is None:
            raise RuntimeError("WeComGroupChannel is not started")
        url = f"{self.base_url}/cgi-bin/webhook/{path}"
        query = {"key": key, **(params or {})}
        try:
            async with self._session.post(url, params=query, json=json_body, data=form) as resp:
                if resp.status != 200:
                    raise WebhookFailed(None, f"{path}: HTTP {resp.status}")
                raw = await resp.read()
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise WebhookFailed(None, f"{path}: {exc.__class__.__name__}") from None
        try:
            answer = json.loads(raw)
        except ValueError:
            answer = None
        if not isinstance(answer, dict):
            raise WebhookFailed(None, f"{path}: answer is not JSON")
        errcode = int(answer.get("errcode", 0))
        if errcode != 0:
            raise WebhookFailed(errcode, f"{path}: errcode {errcode}")
        return answer


def _image(data: bytes) -> dict[str, Any]:
    return {
        "msgtype": "image",
        "image": {
            "base64": base64.b64encode(data).decode(),
            "md5": hashlib.md5(data, usedforsecurity=False).hexdigest(),
        },
    }
