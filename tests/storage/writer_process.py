"""A separate OS process writing to a shared database (the "CLI" in the concurrency test).

Usage: python -m tests.storage.writer_process URL LABEL COUNT
"""

from __future__ import annotations

import asyncio
import sys

from storage.db import Database
from storage.records import Channel, OutboxKind


async def main(url: str, label: str, count: int) -> None:
    db = Database(url)
    await db.open()
    try:
        for n in range(count):
            async with db.transaction(event_key=f"{label}:{n}") as tx:
                person = await tx.people.create(f"{label}-{n}")
                await tx.outbox.enqueue(
                    Channel.WEB, f"{label}", OutboxKind.SEND, {"text": str(n)}, person_id=person.id
                )
    finally:
        await db.close()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3])))
