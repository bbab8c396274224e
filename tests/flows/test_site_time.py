"""Times people read are on the site's wall clock, never UTC (the harness's clock is UTC)."""

from __future__ import annotations

from tests.flows.harness import Harness
from tests.flows.test_manager import completed
from tests.flows.test_tasks import setup_task, task_message


async def test_task_history_shows_the_sites_time(harness: Harness) -> None:
    s = await setup_task(harness)  # created at 2026-11-02 02:00 UTC, 10:00 in Shanghai
    responsible = s["responsible"]
    await responsible.press(task_message(responsible).button("查看详情"))
    history = responsible.chat.last.text
    assert "11-02 10:00 王检查 创建任务" in history
    assert "02:00" not in history


async def test_stats_dates_an_inspection_by_the_sites_calendar(harness: Harness) -> None:
    seeded = await harness.seed()
    people = seeded["people"]
    manager = harness.user(104)
    await manager.command("start", seeded["codes"]["赵经理"])
    harness.clock.advance(hours=17)  # 2026-11-02 19:00 UTC: already 11-03 03:00 in Shanghai
    await completed(harness, seeded["site"].id, people["王检查"].id, 54)
    await manager.command("stats")
    assert "（2026-11-03，已确认）" in manager.chat.last.text
