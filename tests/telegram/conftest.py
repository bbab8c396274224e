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
async def bot(fake: FakeTelegramAPI, tmp_path: Path) -> AsyncIterator[BotRunner]:
    runner = BotRunner(fake, tmp_path)
    await runner.start()
    yield runner
    if runner.running:
        await runner.stop()
