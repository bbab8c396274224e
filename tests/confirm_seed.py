"""An inspection answered to the end but not yet submitted, for the channel journeys of
项目确认 and appeals: item 1 at 0分 and item 2 at 0.5分 (each with its task for 张三), every
other item at full marks. The inspector resumes it (/resume) and taps 提交检查."""

from __future__ import annotations

from datetime import timedelta

from standards.loader import BUILTIN_DIR, load_file
from storage.db import Tx
from storage.records import Person, Site

STANDARD = load_file(BUILTIN_DIR / "community-culture.yaml")
FINDINGS = {1: 0, 2: 1}
"""Item number → index of the level it was given."""


async def answered(tx: Tx, site: Site, people: dict[str, Person]) -> int:
    stored = await tx.standards.ensure(
        std_id=STANDARD.id,
        version=STANDARD.version,
        title=STANDARD.title,
        content_hash=STANDARD.content_hash(),
        snapshot=STANDARD.to_json_dict(),
    )
    inspector = people["王检查"].id
    inspection = await tx.inspections.start(site.id, stored.id, inspector)
    for item in STANDARD.items:
        index = FINDINGS.get(item.no)
        level = item.levels[-1] if index == 0 else item.levels[index or 0]
        await tx.answers.set(
            inspection.id,
            item.no,
            answered_by=inspector,
            score=level.score,
            max_score=item.max_score,
            level_label=level.label,
        )
        if item.no in FINDINGS:
            await tx.tasks.create(
                site.id,
                f"第{item.no}项未达标",
                created_by=inspector,
                due_date=(tx.now() + timedelta(days=7)).date(),
                responsible_person_id=people["张三"].id,
                inspection_id=inspection.id,
                item_no=item.no,
                score=level.score,
            )
    await tx.inspections.pause(inspection.id)
    return inspection.id
