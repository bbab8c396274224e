from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.fakes.telegram_api import FakeTelegramAPI
from tests.telegram.botrunner import BotRunner


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegramAPI]:
    async with FakeTelegramAPI() as api:
        yield api


@pytest.fixture
async def bot(fake: FakeTelegramAPI, tmp_path: Path, database_url: str) -> AsyncIterator[BotRunner]:
    runner = BotRunner(fake, tmp_path, url=database_url)
    await runner.start()
    yield runner
    if runner.running:
        await runner.stop()
