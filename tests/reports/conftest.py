from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pytest

from bot.reports.model import ReportModel, load_report
from bot.reports.service import load_photos, process_pool
from tests.reports.data import Built, build


@pytest.fixture(scope="session")
def pool() -> Iterator[ProcessPoolExecutor]:
    """One report worker process for the whole session (as the bot keeps one)."""
    executor = process_pool()
    yield executor
    executor.shutdown()


@pytest.fixture
async def built(tmp_path: Path) -> AsyncIterator[Built]:
    data = await build(tmp_path)
    yield data
    await data.db.close()


@pytest.fixture
async def model(built: Built) -> ReportModel:
    return await load_report(built.db, built.inspection_id)


@pytest.fixture
async def photos(built: Built, model: ReportModel) -> dict[str, bytes]:
    return await load_photos(built.db.files, model)
