from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.fakes.wecom_api import FakeWeComAPI
from tests.wecom.runner import AGENT_ID, CORP_ID, SECRET, FakeClock, WeComRunner


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def fake(clock: FakeClock) -> AsyncIterator[FakeWeComAPI]:
    async with FakeWeComAPI(CORP_ID, SECRET, agent_id=AGENT_ID, clock=clock) as api:
        api.enforce_member_limit(True)
        yield api


@pytest.fixture
async def bot(
    fake: FakeWeComAPI, tmp_path: Path, clock: FakeClock, database_url: str
) -> AsyncIterator[WeComRunner]:
    runner = WeComRunner(fake, tmp_path, clock, url=database_url)
    await runner.start()
    yield runner
    await runner.stop()
