"""JSON request bodies read without surprises: a body is read up to a limit and never
further, and bad encodings, bad syntax and nesting deeper than the parser can follow (a
RecursionError inside ``json.loads``) are one exception, so every HTTP entry answers them
with a 4xx instead of a 500."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web


class BadJSON(ValueError):
    """The body is not JSON this server can read."""


class TooLarge(ValueError):
    """The body is longer than the entry takes."""


async def read_body(request: web.Request, limit: int) -> bytes:
    """The whole body, or TooLarge as soon as it passes ``limit`` bytes."""
    if (request.content_length or 0) > limit:
        raise TooLarge(limit)
    body = bytearray()
    async for chunk in request.content.iter_chunked(16 * 1024):
        body += chunk
        if len(body) > limit:
            raise TooLarge(limit)
    return bytes(body)


def loads(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except (ValueError, RecursionError) as exc:
        raise BadJSON(exc.__class__.__name__) from None
