"""Opening the configured database for one CLI command."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

from bot.cli.common import CliError
from bot.config import Settings, load_settings
from storage.db import Database
from storage.errors import SchemaMismatch
from storage.evidence import FileEvidenceStore

T = TypeVar("T")


def run_with_db(work: Callable[[Database, Settings], Awaitable[T]]) -> T:
    settings = load_settings()

    async def main() -> T:
        files = FileEvidenceStore(
            settings.evidence_dir, max_bytes=settings.max_upload_mb * 1_048_576
        )
        db = Database(settings.resolved_database_url, files=files)
        try:
            await db.open(check=True)
        except SchemaMismatch as exc:
            raise CliError(str(exc)) from None
        try:
            return await work(db, settings)
        finally:
            await db.close()

    return asyncio.run(main())
