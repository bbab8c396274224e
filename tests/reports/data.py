"""A finished 62-item inspection with photos, notes and tasks, plus the site's previous one,
written straight through the storage API (shared by the report tests and bench_reports)."""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import random
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any, Protocol

from PIL import Image, ImageDraw

from standards.loader import BUILTIN_DIR, load_file
from standards.schema import Standard
from storage.db import Database
from storage.evidence import FileEvidenceStore
from storage.migrate import upgrade
from storage.records import EvidenceKind, TaskStatus
from storage.tables import tasks as tasks_table
from tests import seeding
from tests.storage.helpers import set_columns

STANDARD: Standard = load_file(BUILTIN_DIR / "community-culture.yaml")
NOT_APPLICABLE = {15, 30, 45, 60}
HALF = {3, 13, 23, 33, 43, 53}
ZERO = {7, 17, 27, 37, 47, 57}
PREVIOUS_ZERO = {1, 2, 3, 24, 25, 40}
NOTES = {7: "第7项现场发现问题：记录缺页", 13: "回访记录无签字"}
START = datetime(2026, 11, 2, 1, 0, tzinfo=UTC)


class Clock:
    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now


class SettableClock(Protocol):
    now: datetime

    def __call__(self) -> datetime: ...


@cache
def _grain(size: tuple[int, int], sigma: int) -> Image.Image:
    return Image.effect_noise(size, sigma).convert("RGB")


def jpeg(index: int, size: tuple[int, int] = (320, 240), noise: int = 0) -> bytes:
    """A distinct photo-like JPEG: a gradient, shapes and (for realistic sizes) sensor noise."""
    rng = random.Random(index)
    width, height = size
    base = Image.linear_gradient("L").resize(size).convert("RGB")
    tint = Image.new("RGB", size, (rng.randrange(256), rng.randrange(256), rng.randrange(256)))
    image = Image.blend(base, tint, 0.5)
    draw = ImageDraw.Draw(image)
    for _ in range(12):
        x, y = rng.randrange(width), rng.randrange(height)
        colour = (rng.randrange(256), rng.randrange(256), rng.randrange(256))
        draw.rectangle((x, y, x + width // 6, y + height // 6), fill=colour)
    if noise:
        image = Image.blend(image, _grain(size, noise), 0.25)
    out = io.BytesIO()
    image.save(out, "JPEG", quality=90)
    return out.getvalue()


@dataclass
class Built:
    db: Database
    clock: SettableClock
    site_id: int
    inspection_id: int
    previous_id: int | None
    people: dict[str, int]
    photo_hashes: list[str]


async def open_db(tmp: Path, clock: Clock) -> Database:
    url = f"sqlite+aiosqlite:///{tmp / 'pinjian.db'}"
    await upgrade(url)
    db = Database(url, clock=clock, files=FileEvidenceStore(tmp / "evidence", max_bytes=20 << 20))
    await db.open()
    return db


def photo_items(count: int) -> list[int]:
    """Which item each photo belongs to: the items that lost points first, then the rest."""
    lost = sorted(HALF | ZERO)
    others = [i.no for i in STANDARD.items if i.no not in HALF | ZERO | NOT_APPLICABLE]
    order = lost + others
    return [order[i % len(order)] for i in range(count)]


async def build(tmp: Path, **options: Any) -> Built:
    clock = Clock(START)
    return await populate(await open_db(tmp, clock), clock, **options)


async def populate(
    db: Database,
    clock: SettableClock,
    *,
    site_name: str = "阳光花园",
    photos: int = 8,
    photo_size: tuple[int, int] = (320, 240),
    noise: int = 0,
    previous: bool = True,
) -> Built:
    """Write the two inspections into `db`: the previous one 30 days before the clock's time."""
    now = clock.now
    async with db.transaction() as tx:
        site = await tx.sites.create(site_name, timezone="Asia/Shanghai")
        people = {name: person.id for name, person in (await seeding.staff(tx, site)).items()}
        stored = await tx.standards.ensure(
            std_id=STANDARD.id,
            version=STANDARD.version,
            title=STANDARD.title,
            content_hash=STANDARD.content_hash(),
            snapshot=STANDARD.to_json_dict(),
        )
    previous_id = None
    if previous:
        clock.now = now - timedelta(days=30)
        async with db.transaction() as tx:
            before = await tx.inspections.start(site.id, stored.id, people["王检查"])
            score = 0.0
            applicable = 0.0
            for item in STANDARD.items:
                level = item.levels[-1] if item.no in PREVIOUS_ZERO else item.levels[0]
                await tx.answers.set(
                    before.id,
                    item.no,
                    answered_by=people["王检查"],
                    score=level.score,
                    max_score=item.max_score,
                    level_label=level.label,
                )
                score += level.score
                applicable += item.max_score
            await tx.inspections.complete(before.id, score=score, max_score=applicable)
            previous_id = before.id
    clock.now = now
    files = [await db.files.put(jpeg(index, photo_size, noise)) for index in range(photos)]
    async with db.transaction() as tx:
        inspection = await tx.inspections.start(site.id, stored.id, people["王检查"])
        inspector = people["王检查"]
        score = applicable = 0.0
        for item in STANDARD.items:
            if item.no in NOT_APPLICABLE:
                await tx.answers.set(
                    inspection.id,
                    item.no,
                    answered_by=inspector,
                    score=None,
                    max_score=item.max_score,
                    not_applicable=True,
                )
                continue
            if item.no in HALF:
                level = next(lv for lv in item.levels if 0 < lv.score < item.max_score)
            elif item.no in ZERO:
                level = item.levels[-1]
            else:
                level = item.levels[0]
            await tx.answers.set(
                inspection.id,
                item.no,
                answered_by=inspector,
                score=level.score,
                max_score=item.max_score,
                level_label=level.label,
            )
            score += level.score
            applicable += item.max_score
        for no, text in NOTES.items():
            await tx.notes.add(text, created_by=inspector, inspection_id=inspection.id, item_no=no)
        for index, (file, no) in enumerate(zip(files, photo_items(photos), strict=True)):
            await tx.evidence.add(
                file.sha256,
                file.size,
                mime="image/jpeg",
                kind=EvidenceKind.PHOTO,
                created_by=inspector,
                caption="门岗记录本" if index == 0 else None,
                inspection_id=inspection.id,
                item_no=no,
            )
        for no in sorted(HALF | ZERO):
            responsible = people["张三"] if no % 2 else people["李四"]
            due = date(2026, 11, 1) if no == 3 else date(2026, 11, 2) + timedelta(days=no)
            task = await tx.tasks.create(
                site.id,
                f"第{no}项：{STANDARD.item(no).content[:20]}",
                created_by=inspector,
                due_date=due,
                responsible_person_id=responsible,
                inspection_id=inspection.id,
                item_no=no,
                score=0.0 if no in ZERO else 0.5,
                remark="需补充台账" if no == 7 else None,
            )
            if no == 13:
                await tx.tasks.transition(task.id, task.version, TaskStatus.REVIEW, actor_id=None)
        await tx.inspections.complete(inspection.id, score=score, max_score=applicable)
    return Built(db, clock, site.id, inspection.id, previous_id, people, [f.sha256 for f in files])


FORMULAS = {
    "note": '=HYPERLINK("http://x","点击查看详情")',
    "remark": "=cmd|' /C calc'!A0",
    "finding": "-1+1+cmd|' /C calc'!A0",
    "responsible": "+张三",
    "site": "@SUM(1+1)",
    "caption": "\t=1+1",
}


async def plant_formulas(built: Built) -> None:
    """Text a spreadsheet would evaluate, where a person could have typed it: a note that opens
    item 2's 备注, a task's 备注, a task's 问题, a 责任人's and a site's name, a photo caption."""
    inspector = built.people["王检查"]
    async with built.db.transaction() as tx:
        await tx.sites.update(built.site_id, name=FORMULAS["site"])
        await tx.people.update(built.people["张三"], name=FORMULAS["responsible"])
        await tx.notes.add(
            FORMULAS["note"], created_by=inspector, inspection_id=built.inspection_id, item_no=2
        )
        tasks = await tx.tasks.for_inspection(built.inspection_id)
        seventh = next(t for t in tasks if t.item_no == 7)
        await set_columns(tx, tasks_table, seventh.id, remark=FORMULAS["remark"])
        await tx.tasks.create(
            built.site_id,
            FORMULAS["finding"],
            created_by=inspector,
            due_date=date(2026, 11, 20),
            responsible_person_id=built.people["李四"],
            inspection_id=built.inspection_id,
            item_no=2,
        )
        await tx.evidence.add(
            built.photo_hashes[0],
            1,
            mime="image/jpeg",
            kind=EvidenceKind.PHOTO,
            created_by=inspector,
            caption=FORMULAS["caption"],
            inspection_id=built.inspection_id,
            item_no=2,
        )


def asdict_hash(model: Any) -> str:
    """A report model's hash as first defined: SHA-256 of `dataclasses.asdict`'s JSON form."""
    data = json.dumps(dataclasses.asdict(model), ensure_ascii=False, sort_keys=True, default=str)
    return hashlib.sha256(data.encode("utf-8")).hexdigest()
