"""Several bot processes polling one bot token on PostgreSQL: exactly one polls (an advisory
lock), and when it dies another takes over within seconds without losing a message."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.fakes.telegram_api import FakeTelegramAPI
from tests.scratch_db import PG_SKIP_REASON, PgServer
from tests.telegram.botrunner import BotRunner


@pytest.fixture
async def pg_url(pg_server: PgServer | None) -> AsyncIterator[str]:
    if pg_server is None:
        pytest.skip(PG_SKIP_REASON)
    url = await pg_server.create(migrated=True)
    yield url
    await pg_server.drop(url)


async def test_one_process_polls_and_another_takes_over_when_it_dies(
    fake: FakeTelegramAPI, tmp_path: Path, pg_url: str
) -> None:
    runners = [
        BotRunner(fake, tmp_path / name, url=pg_url, poll_lock=True) for name in ("a", "b", "c")
    ]
    for runner in runners:
        await runner.start()
    try:
        seeded = await runners[0].seed()
        await fake.wait_for(lambda: any(r.leadership and r.leadership.held for r in runners))
        await asyncio.sleep(2)  # every process had time to try
        holders = [r for r in runners if r.leadership and r.leadership.held]
        assert len(holders) == 1
        polls = fake.calls("getUpdates")
        assert polls and all(call.status != 409 for call in polls), "no 409: one consumer"

        user = fake.user(5001, "王检查")
        await holders[0].act(user.send_command("start", seeded["codes"]["王检查"]))
        answered = len(fake.texts(user.id))
        assert answered > 0

        # The holder dies: its lock connection drops (as when the process is killed), and
        # it stops polling at once; it is then shut down.
        dead = holders[0]
        assert dead.leadership is not None
        died = time.monotonic()
        dead.leadership._conn.terminate()
        await asyncio.sleep(0)
        assert dead.leadership.lost.is_set()
        await dead.stop()
        update = asyncio.ensure_future(user.send_command("help"))
        alive = [r for r in runners if r is not dead]
        await fake.wait_for(
            lambda: any(r.leadership and r.leadership.held for r in alive), timeout=10
        )
        assert time.monotonic() - died < 5, "taken over within seconds"
        await alive[0].act(update)
        assert len(fake.texts(user.id)) > answered, "the message sent meanwhile is answered"
        assert not dead.leadership.held
        assert all(call.status != 409 for call in fake.calls("getUpdates"))
        assert len([r for r in runners if r.leadership and r.leadership.held]) == 1
    finally:
        for runner in runners:
            if runner.running:
                await runner.stop()
