"""Several bot processes on one PostgreSQL sending to WeCom: together they never exceed 30
messages a minute to one member (a process sends to a member only while it owns the member's
window), and each fetches an access token once, not once per send."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from storage.records import Channel, OutboxKind, OutboxStatus
from storage.tables import outbox
from tests.fakes.wecom_api import FakeWeComAPI
from tests.scratch_db import PG_SKIP_REASON, PgServer
from tests.wecom.runner import FakeClock, WeComRunner
from tests.wecom.test_pacing import enqueue, most_in_any_minute


@pytest.fixture
async def pg_url(pg_server: PgServer | None) -> AsyncIterator[str]:
    if pg_server is None:
        pytest.skip(PG_SKIP_REASON)
    url = await pg_server.create(migrated=True)
    yield url
    await pg_server.drop(url)


async def settle_all(runners: list[WeComRunner], clock: FakeClock) -> None:
    """Each process in turn delivers what it can claim (a different one first each round);
    when only delayed messages are left, the clock moves on to the next one."""
    db = runners[0].db
    for turn in range(10_000):
        order = runners[turn % len(runners) :] + runners[: turn % len(runners)]
        if sum([await runner.worker.run_once() for runner in order]):
            continue
        pending = (outbox.c.channel == Channel.WECOM) & (outbox.c.status == OutboxStatus.PENDING)
        async with db.read() as tx:
            if not await tx.connection.scalar(sa.select(sa.func.count()).where(pending)):
                return
            due = await tx.connection.scalar(
                sa.select(sa.func.min(outbox.c.not_before)).where(
                    pending, outbox.c.not_before > clock.utc()
                )
            )
        assert due is not None, "pending messages that are due but never claimed"
        clock.now = due.timestamp() + 0.001
    raise AssertionError("outbox did not settle")


async def test_three_processes_keep_one_members_window_and_share_a_token(
    fake: FakeWeComAPI, clock: FakeClock, tmp_path: Path, pg_url: str
) -> None:
    runners = [WeComRunner(fake, tmp_path / name, clock, url=pg_url) for name in "abc"]
    for runner in runners:
        await runner.start()
    try:
        for n in range(90):
            await enqueue(runners[n % 3], "busy", OutboxKind.SEND, text=f"消息 {n}")
            await enqueue(runners[n % 3], f"calm{n % 3}", OutboxKind.SEND, text=f"你好 {n}")
        started = clock()
        await settle_all(runners, clock)
        busy = fake.sent_to("busy")
        assert [m.content for m in busy] == [f"消息 {n}" for n in range(90)]
        assert not any(m.dropped for m in busy)
        assert most_in_any_minute(busy) <= 30
        assert busy[-1].at - started < 3 * 61 + 10, "paced, not stalled"
        for n in range(3):
            assert len(fake.sent_to(f"calm{n}")) == 30
        assert fake.calls.count("/cgi-bin/gettoken") <= len(runners), "no token storm"
    finally:
        for runner in runners:
            await runner.stop()
