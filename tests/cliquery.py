"""Reading what a CLI command wrote (and writing what it reads): one transaction on the data
dir's SQLite file."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from storage.db import Database, Tx


def query(data_dir: Path, work: Callable[[Tx], Awaitable[Any]], *, write: bool = False) -> Any:
    async def run() -> Any:
        db = Database(f"sqlite+aiosqlite:///{(data_dir / 'pinjian.db').resolve()}")
        await db.open()
        try:
            async with db.transaction() if write else db.read() as tx:
                return await work(tx)
        finally:
            await db.close()

    return asyncio.run(run())
