"""`pinjian reminders preview|run-once --at …` against a real database, and the scheduler's
jobs as configured."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from bot.cli import main
from bot.flows.reminder_sweep import ReminderSweeper
from bot.flows.reminding import replan
from bot.retention import Retention
from bot.scheduler import Scheduler
from storage.db import Database
from storage.records import Channel, Role


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("PINJIAN_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.chdir(tmp_path)
    assert main(["db", "upgrade"]) == 0
    return tmp_path / "data"


def _seed(data_dir: Path) -> None:
    async def work() -> None:
        db = Database(f"sqlite+aiosqlite:///{(data_dir / 'pinjian.db').resolve()}")
        await db.open()
        async with db.transaction() as tx:
            site = await tx.sites.create("阳光花园", timezone="Asia/Shanghai")
            zhang = await tx.people.create("张三")
            await tx.roles.grant(zhang.id, site.id, Role.RESPONSIBLE)
            await tx.identities.bind(zhang.id, Channel.TELEGRAM, "42", chat_id="42")
            task = await tx.tasks.create(
                site.id,
                "地面有污渍",
                created_by=None,
                due_date=date(2026, 12, 5),
                responsible_person_id=zhang.id,
            )
            await replan(tx, task, datetime(2026, 11, 27, tzinfo=UTC))
        await db.close()

    asyncio.run(work())


def test_preview_lists_and_run_once_sends_once(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _seed(data_dir)
    assert main(["reminders", "preview", "--at", "2026-12-02T09:30"]) == 0
    out = capsys.readouterr().out
    assert "将发送给 张三" in out and "#1 还有 3 天到期（12-05）" in out
    assert main(["reminders", "preview", "--at", "2026-12-02T09:30"]) == 0
    assert "将发送给 张三" in capsys.readouterr().out
    assert main(["reminders", "run-once", "--at", "2026-12-02T09:30"]) == 0
    assert "已发送给 张三" in capsys.readouterr().out
    assert main(["reminders", "run-once", "--at", "2026-12-02T09:30"]) == 0
    assert "没有到期的提醒" in capsys.readouterr().out
    assert main(["reminders", "run-once", "--at", "2026-12-04T23:00"]) == 0
    assert "推迟 1 条（免打扰时段）" in capsys.readouterr().out
    assert main(["reminders", "preview", "--at", "next tuesday"]) == 2
    assert "看不懂时间" in capsys.readouterr().err


async def test_scheduler_has_the_sweep_the_daily_check_retention_and_the_digest(
    tmp_path: Path,
) -> None:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'x.db'}")

    async def digest() -> None:
        return None

    scheduler = Scheduler(
        ReminderSweeper(db, lambda: datetime.now(UTC)),
        "Asia/Shanghai",
        on_sent=lambda: None,
        digest=digest,
        bulletin=digest,
        retention=Retention(db, lambda: datetime.now(UTC)),
    )
    jobs = {job.id: str(job.trigger) for job in scheduler.scheduler.get_jobs()}
    assert jobs["reminder-sweep"] == "interval[0:01:00]"
    assert "hour='0', minute='30'" in jobs["daily-overdue-check"]
    assert jobs["retention"] == "interval[1:00:00]"
    assert jobs["weekly-digest"] == "interval[0:01:00]"
    assert jobs["monthly-bulletin"] == "interval[0:01:00]"
