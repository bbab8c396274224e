"""Small tools for the web chat tests: a PNG maker, polling, and an HTTP client of the API."""

from __future__ import annotations

import asyncio
import json
import struct
import uuid
import zlib
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp


def png(width: int = 240, height: int = 160, tint: int = 0) -> bytes:
    """A real PNG (a colour gradient), made without any imaging library."""
    rows = []
    for y in range(height):
        row = bytearray(b"\x00")
        for x in range(width):
            row += bytes(((x * 255 // width + tint) % 256, y * 255 // height, 160))
        rows.append(bytes(row))

    def chunk(tag: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(tag + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"".join(rows)))
        + chunk(b"IEND", b"")
    )


async def wait_until(check: Callable[[], Awaitable[bool]], within: float = 10.0) -> None:
    """Poll `check` (a database query, say) every 20 ms for at most `within` seconds."""
    for _ in range(int(within / 0.02)):
        if await check():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("condition not reached in time")


async def read_event(response: aiohttp.ClientResponse) -> tuple[str, dict[str, Any]]:
    """The next server-sent event (comments such as heartbeats are skipped)."""
    name, data = "message", list[str]()
    while True:
        line = (await response.content.readline()).decode()
        if line == "":
            raise EOFError("stream closed")
        line = line.rstrip("\n")
        if line == "" and data:
            return name, json.loads("\n".join(data))
        if line.startswith("event:"):
            name = line[6:].strip()
        elif line.startswith("data:"):
            data.append(line[5:].strip())


class ApiClient:
    """The web chat API as the page uses it."""

    def __init__(self, http: aiohttp.ClientSession, base: str, token: str | None) -> None:
        self.http = http
        self.base = base
        self.token = token

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}

    async def send(self, body: dict[str, Any], message_id: str | None = None) -> int:
        body = {"id": message_id or uuid.uuid4().hex, **body}
        async with self.http.post(
            f"{self.base}/api/send", json=body, headers=self.headers
        ) as response:
            await response.read()
            return response.status

    async def text(self, text: str, message_id: str | None = None) -> int:
        return await self.send({"kind": "text", "text": text}, message_id)

    async def upload(
        self, data: bytes | None, *, name: str = "photo.png", size: int | None = None
    ) -> int:
        form = aiohttp.FormData(default_to_multipart=True)
        declared = size if size is not None else len(data or b"")
        form.add_field("size", str(declared))
        form.add_field("name", name)
        if data is not None:
            form.add_field("file", data, filename=name, content_type="image/png")
        headers = {**self.headers, "X-Message-Id": uuid.uuid4().hex}
        async with self.http.post(
            f"{self.base}/api/upload", data=form, headers=headers
        ) as response:
            await response.read()
            return response.status

    async def history(self) -> list[dict[str, Any]]:
        """The chat as a freshly loaded page gets it."""
        async with self.http.get(
            f"{self.base}/api/events?after=0", headers=self.headers
        ) as response:
            assert response.status == 200, response.status
            name, data = await read_event(response)
        assert name == "history"
        messages: list[dict[str, Any]] = data["messages"]
        return messages

    async def messages(self) -> list[dict[str, Any]]:
        """The transcript with edits applied, as the page shows it."""
        shown: dict[str, dict[str, Any]] = {}
        for message in await self.history():
            shown[message["id"]] = message
        return list(shown.values())

    async def press(self, label: str) -> int:
        """Press the button labelled `label` on the newest message that has buttons."""
        for message in reversed(await self.messages()):
            for row in message["buttons"]:
                for text, payload in row:
                    if label in text:
                        return await self.send({"kind": "button", "payload": payload})
        raise AssertionError(f"no button {label!r}")
