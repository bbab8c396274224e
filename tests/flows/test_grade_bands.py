"""Every grade people see comes from the company's grade bands (setting `grade_bands`)."""

from __future__ import annotations

from tests.flows.harness import Harness
from tests.flows.test_manager import completed

BANDS = [[95, "甲级"], [85, "乙级"], [75, "丙级"]]


async def test_stats_grades_with_the_company_bands(harness: Harness) -> None:
    seeded = await harness.seed()
    manager = harness.user(104)
    await manager.command("start", seeded["codes"]["赵经理"])
    async with harness.db.transaction() as tx:
        await tx.settings.set("grade_bands", BANDS)
    await completed(harness, seeded["site"].id, seeded["people"]["王检查"].id, 54)
    await manager.command("stats")
    text = manager.chat.last.text
    assert "阳光花园：90.0% 乙级" in text
    assert "优秀" not in text
