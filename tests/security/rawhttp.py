"""Requests as an attacker sends them: raw bytes on a socket, so paths, headers and bodies can
carry anything (non-ASCII, invalid UTF-8, control characters) that a well-behaved HTTP client
would refuse to send. And the state a refused request must leave as it was."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass

import sqlalchemy as sa

from storage.db import Database
from storage.tables import metadata


@dataclass(frozen=True)
class Answer:
    status: int
    head: bytes
    body: bytes


def request_bytes(
    method: str,
    target: bytes,
    headers: Sequence[tuple[bytes, bytes]] = (),
    body: bytes = b"",
) -> bytes:
    """One HTTP/1.1 request with a Content-Length, and the connection closed after it."""
    lines = [method.encode() + b" " + target + b" HTTP/1.1", b"Host: 127.0.0.1"]
    lines += [name + b": " + value for name, value in headers]
    lines += [b"Content-Length: " + str(len(body)).encode(), b"Connection: close"]
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


async def send(port: int, raw: bytes) -> Answer:
    """Send ``raw`` to 127.0.0.1:``port`` and read the answer (of an event stream only the
    head: it stays open)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(raw)
        await writer.drain()
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
        body = b""
        if b"text/event-stream" not in head.lower():
            body = await asyncio.wait_for(reader.read(), 10)
    finally:
        writer.close()
    status = int(head.split(b" ", 2)[1])
    return Answer(status, head, body)


async def row_counts(db: Database) -> dict[str, int]:
    """How many rows every table has: a refused request changes none of them. What the
    scheduler writes on its own is left out: job_runs, and the processed-event keys of its
    jobs (`job:…`, e.g. the hourly retention run at start-up)."""
    counts = {}
    async with db.read() as tx:
        for table in metadata.sorted_tables:
            if table.name == "job_runs":
                continue
            stmt = sa.select(sa.func.count()).select_from(table)
            if table.name == "processed_events":
                stmt = stmt.where(~table.c.key.startswith("job:"))
            value = await tx.connection.scalar(stmt)
            counts[table.name] = int(value or 0)
    return counts
