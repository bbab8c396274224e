"""Access: every command and every kind of button, pressed by every role that must not use it
(a stranger, an inspector of another site, the 责任人 of another task, a manager of another
site); each is refused and changes nothing. The rightful person is the control.

Buttons are tried twice per role: exactly as the rightful person was shown them (a forged
press) and re-stamped with the attacker's own screen counter, so that the check behind the
stale-screen check is exercised too.

Separation of duties: the 责任人 of a fix under review and of a pending extension request, made
a manager of the same site too, presses the verification and the decision of his own work.

Regions and company-wide roles: a manager of one region (华东) presses the manager's buttons
of a site of another (华南) and is refused; a manager of the site's region or of the whole
company acts; /stats and /overdue keep to the region; inspectors at a region or the company
are offered the sites below.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from bot.core.texts import render
from storage.records import Role
from tests.resilience.fuzz import ErrorLog
from tests.resilience.invariants import snapshot, violations
from tests.resilience.world import (
    FULL,
    LI,
    QIAN,
    SITE_A,
    SITE_B,
    STRANGERS,
    WANG,
    WEB_ZHANG,
    ZHANG,
    ZHAO,
    ZHOU,
    Actor,
    Frozen,
    World,
    person_of,
)

ROLES: dict[str, Actor] = {
    "stranger": STRANGERS[0],
    "inspector of another site": QIAN,
    "责任人 of another task": LI,
    "manager of another site": ZHOU,
}
REFUSALS = {render(t) for t in ("not_allowed", "stale_button", "inspection_closed", "task_closed")}
STRANGER_REPLY = render("refused_stranger")
Prepare = Callable[[World], Awaitable[Any]]


async def _as_is(world: World) -> None:
    return None


async def _inspect(world: World) -> None:
    await world.command(WANG, "inspect")


async def _section(world: World) -> None:
    await world.tap(WANG, "一、", "CS:")


async def _fix_photo(world: World) -> None:
    await world.photo(ZHANG, b"photo of the fix")


async def _no_pending_extension(world: World) -> None:
    await world.tap(ZHAO, "驳回", "K:ER:3:")


async def _asking_extension(world: World) -> None:
    await _no_pending_extension(world)
    await world.tap(ZHANG, "申请延期", "K:E:3:")


@dataclass(frozen=True)
class Case:
    """Where the button is shown: the template, who has it, its label and payload prefix."""

    template: str
    owner: Actor
    label: str
    prefix: str
    prepare: Prepare = _as_is


BUTTONS: dict[str, Case] = {
    "S": Case("choose_site", WANG, SITE_A, "S:"),
    "T": Case("choose_standard", WANG, FULL.title, "T:"),
    "R": Case("item", WANG, SITE_A, "R:", _inspect),
    "NEW": Case("item", WANG, "开始新的检查", "NEW:", _inspect),
    "L": Case("item", WANG, "1分", "L:"),
    "NA": Case("item", WANG, "不适用", "NA:"),
    "P": Case("item", WANG, "照片", "P:"),
    "M": Case("item", WANG, "备注", "M:"),
    "V": Case("item", WANG, "上一项", "V:"),
    "X": Case("item", WANG, "抽样记录", "X:"),
    "F": Case("item", WANG, "录入数据", "F:"),
    "RU": Case("item", WANG, "评分细则", "RU:"),
    "C": Case("item", WANG, "目录", "C:"),
    "PA": Case("item", WANG, "暂停", "PA:"),
    "XS": Case("sample", WANG, "✓", "XS:"),
    "TR": Case("task", WANG, "李四", "TR:"),
    "TD": Case("task", WANG, "+3天", "TD:"),
    "TM": Case("task", WANG, "备注", "TM:"),
    "TOK": Case("task", WANG, "确认创建", "TOK:"),
    "CS": Case("toc", WANG, "一、", "CS:"),
    "J": Case("toc", WANG, "5", "J:", _section),
    "SUB": Case("submit", WANG, "提交检查", "SUB:"),
    "K:F": Case("item", ZHANG, "已整改", "K:F:3:"),
    "K:FS": Case("fix", ZHANG, "提交复查", "K:FS:3:", _fix_photo),
    "K:E": Case("item", ZHANG, "申请延期", "K:E:3:", _no_pending_extension),
    "K:ED": Case("item", ZHANG, "+7天", "K:ED:3:", _asking_extension),
    "K:EA": Case("item", ZHAO, "批准", "K:EA:3:"),
    "K:ER": Case("item", ZHAO, "驳回", "K:ER:3:"),
    "K:OK": Case("item", WANG, "通过", "K:OK:1:"),
    "K:RJ": Case("item", WANG, "退回", "K:RJ:1:"),
    "K:D": Case("item", ZHANG, "查看详情", "K:D:3:"),
}

Rows = dict[str, list[dict[str, Any]]]
VOLATILE = {"conversations": ("version", "updated_at")}


def _comparable(rows: Rows) -> Rows:
    """Without the outbox and event keys, and without the conversation's save counter."""
    kept: Rows = {}
    for table, entries in rows.items():
        if table in ("outbox", "processed_events"):
            continue
        drop = VOLATILE.get(table, ())
        kept[table] = [{k: v for k, v in row.items() if k not in drop} for row in entries]
    return kept


def changes(before: Rows, after: Rows) -> list[tuple[str, Any]]:
    """(table, row) for every row added or changed, and every row removed."""
    found = []
    for table in after:
        old = {repr(row) for row in before[table]}
        new = {repr(row) for row in after[table]}
        found += [(table, row) for row in after[table] if repr(row) not in old]
        found += [(table, row) for row in before[table] if repr(row) not in new]
    return found


async def state(world: World) -> Rows:
    return _comparable(await snapshot(world.db))


async def screen_of(world: World, who: Actor) -> int:
    person = await person_of(world, who)
    if person is None:
        return 0
    async with world.db.read() as tx:
        conversation = await tx.conversations.get(person, who[0], who[1])
    return int(conversation.state.get("screen", 0)) if conversation else 0


def refused(world: World, who: Actor, messages_before: int) -> bool:
    chat = world.chat_of(who)
    if who in STRANGERS:
        replies = chat.texts()[messages_before:]
        return replies == [STRANGER_REPLY] and chat.toasts[-1] == ("", False)
    text, alert = chat.toasts[-1]
    return alert and text in REFUSALS and len(chat.messages) == messages_before


@pytest.mark.parametrize("kind", list(BUTTONS))
async def test_buttons_of_others_are_refused_and_change_nothing(
    frozen: dict[str, Frozen], tmp_path: Path, kind: str
) -> None:
    case = BUTTONS[kind]
    world = await World.thaw(frozen[case.template], tmp_path / "world")
    with ErrorLog() as errors:
        await case.prepare(world)
        data = world.button(case.owner, case.label, case.prefix)
        outcome: dict[str, list[str]] = {}
        for role, attacker in ROLES.items():
            forged = [data]
            if not data.startswith("K:") and kind != "NEW":
                parts = data.split(":")
                parts[1] = str(await screen_of(world, attacker))
                forged.append(":".join(parts))
            for attempt in forged:
                before, shown = await state(world), len(world.chat_of(attacker).messages)
                await world.press(attacker, attempt)
                changed = changes(before, await state(world))
                ok = refused(world, attacker, shown) and not changed
                outcome.setdefault(role, []).append("refused" if ok else f"ALLOWED {changed}")
        before = await state(world)
        await world.press(case.owner, data)
        control = world.chat_of(case.owner).toasts[-1]
    assert errors.records == [], errors.describe(0)
    assert all(o == "refused" for results in outcome.values() for o in results), outcome
    assert control[0] not in REFUSALS, f"the rightful press was refused: {control}"
    assert await violations(world.db) == []
    await world.close()


COMMANDS = (
    "inspect",
    "resume",
    "pause",
    "status",
    "tasks",
    "stats",
    "overdue",
    "settings",
    "help",
    "start",
)
MANAGERS_ONLY = {"stats", "overdue", "settings"}
OWNER = {"inspections": "inspector_id", "conversations": "person_id"}
"""A command may change these rows of the person's own (their inspection, their chat)."""
CONTROL = {"tasks": ZHANG, "stats": ZHAO, "overdue": ZHAO, "settings": ZHAO}
# What a person of another site (or a 责任人 of another task) must never be shown.
SECRETS = {
    "stranger": ("阳光花园", "王检查", "张三"),
    "inspector of another site": ("阳光花园", "王检查", "张三", "赵经理"),
    "责任人 of another task": ("张三", "王检查"),
    "manager of another site": ("阳光花园", "王检查", "张三", "赵经理"),
}


def expected(command: str, role: str) -> str:
    """The access table for commands: refused, not allowed, or answered within own scope."""
    if role == "stranger":
        return "refused"
    if command in MANAGERS_ONLY and role != "manager of another site":
        return "not_allowed"
    return "own scope"


@pytest.mark.parametrize("command", COMMANDS)
async def test_commands_of_every_role_stay_in_their_own_scope(
    frozen: dict[str, Frozen], tmp_path: Path, command: str
) -> None:
    world = await World.thaw(frozen["item"], tmp_path / "world")
    table: dict[str, str] = {}
    with ErrorLog() as errors:
        for role, who in ROLES.items():
            me = await person_of(world, who)
            before, shown = await state(world), len(world.chat_of(who).messages)
            await world.command(who, command)
            replies = "\n".join(world.chat_of(who).texts()[shown:])
            foreign = [
                (t, row)
                for t, row in changes(before, await state(world))
                if not (t in OWNER and me is not None and row[OWNER[t]] == me)
            ]
            leaked = [word for word in SECRETS[role] if word in replies]
            if role == "stranger":
                got = "refused" if replies == STRANGER_REPLY else replies
            elif replies == render("not_allowed"):
                got = "not_allowed"
            else:
                got = "own scope" if replies else "no answer"
            table[role] = got if not (foreign or leaked) else f"{got} {foreign} {leaked}"
        owner = CONTROL.get(command, WANG)
        shown = len(world.chat_of(owner).messages)
        await world.command(owner, command)
        answer = world.chat_of(owner).texts()[shown:]
    assert errors.records == [], errors.describe(0)
    assert table == {role: expected(command, role) for role in ROLES}
    assert answer and render("not_allowed") not in answer and STRANGER_REPLY not in answer
    assert await violations(world.db) == []
    await world.close()


OWN_WORK = {"K:OK": "own_fix", "K:RJ": "own_fix", "K:EA": "own_extension", "K:ER": "own_extension"}


@pytest.mark.parametrize("kind", list(OWN_WORK))
async def test_own_fix_and_own_extension_are_refused_to_a_second_role(
    frozen: dict[str, Frozen], tmp_path: Path, kind: str
) -> None:
    """张三 is the 责任人 of #1 (待复查, his fix) and #3 (his extension request pending); as a
    manager of the site too he presses, from each of his chats, the buttons 王检查 and 赵经理
    were shown for them: refused with the reason, nothing changes; the rightful press works."""
    case = BUTTONS[kind]
    world = await World.thaw(frozen[case.template], tmp_path / "world")
    async with world.db.transaction() as tx:
        site = await tx.sites.by_name(SITE_A)
        assert site is not None
        await tx.roles.grant(world.people["张三"].id, site.id, Role.MANAGER)
    with ErrorLog() as errors:
        data = world.button(case.owner, case.label, case.prefix)
        outcome = {}
        for chat in (ZHANG, WEB_ZHANG):
            before, shown = await state(world), len(world.chat_of(chat).messages)
            await world.press(chat, data)
            changed = changes(before, await state(world))
            answer = world.chat_of(chat).toasts[-1]
            ok = answer == (render(OWN_WORK[kind]), True) and not changed
            ok = ok and len(world.chat_of(chat).messages) == shown
            outcome[chat] = "refused" if ok else f"ALLOWED {answer} {changed}"
        await world.press(case.owner, data)
        control = world.chat_of(case.owner).toasts[-1]
    assert errors.records == [], errors.describe(0)
    assert outcome == {ZHANG: "refused", WEB_ZHANG: "refused"}
    assert control[0] not in REFUSALS, f"the rightful press was refused: {control}"
    assert await violations(world.db) == []
    await world.close()


# The company in regions: 华东 holds 翠湖苑 (site B), 华南 holds 阳光花园 (site A).
EAST, SOUTH = "华东", "华南"
MANAGERS_BUTTONS = ["K:EA", "K:ER", "K:OK", "K:RJ"]


async def _in_regions(world: World) -> dict[str, int]:
    async with world.db.transaction() as tx:
        ids = {}
        for region, site_name in ((EAST, SITE_B), (SOUTH, SITE_A)):
            site = await tx.sites.by_name(site_name)
            assert site is not None
            ids[region] = (await tx.regions.create(region)).id
            await tx.sites.set_region(site.id, ids[region])
    return ids


async def _move_role(world: World, name: str, role: Role, region_id: int | None) -> None:
    """The person's role, held at their own site so far, now held at the region (None: the
    whole company)."""
    person = world.people[name].id
    async with world.db.transaction() as tx:
        for grant in await tx.roles.for_person(person):
            if grant.role is role:
                await tx.roles.revoke(person, grant.site_id, role, region_id=grant.region_id)
        await tx.roles.grant(person, None, role, region_id=region_id)


@pytest.mark.parametrize("kind", MANAGERS_BUTTONS)
async def test_a_region_manager_cannot_act_on_another_regions_site_a_company_manager_can(
    frozen: dict[str, Frozen], tmp_path: Path, kind: str
) -> None:
    """周经理, manager of 华东 (翠湖苑), presses the manager's buttons of a 阳光花园 (华南) task:
    refused, nothing changes; made a company-wide manager, the same press works."""
    case = BUTTONS[kind]
    world = await World.thaw(frozen[case.template], tmp_path / "world")
    regions = await _in_regions(world)
    await _move_role(world, "周经理", Role.MANAGER, regions[EAST])
    with ErrorLog() as errors:
        data = world.button(case.owner, case.label, case.prefix)
        before, shown = await state(world), len(world.chat_of(ZHOU).messages)
        await world.press(ZHOU, data)
        as_region = refused(world, ZHOU, shown) and not changes(before, await state(world))
        await _move_role(world, "周经理", Role.MANAGER, None)
        before = await state(world)
        await world.press(ZHOU, data)
        answer = world.chat_of(ZHOU).toasts[-1]
        as_company = answer[0] not in REFUSALS and bool(changes(before, await state(world)))
    assert errors.records == [], errors.describe(0)
    assert (as_region, as_company) == (True, True), answer
    assert await violations(world.db) == []
    await world.close()


@pytest.mark.parametrize("kind", ["K:EA", "K:OK"])
async def test_a_region_manager_acts_on_every_site_of_the_region(
    frozen: dict[str, Frozen], tmp_path: Path, kind: str
) -> None:
    """周经理 made manager of 华南 (阳光花园's region) decides and verifies there."""
    case = BUTTONS[kind]
    world = await World.thaw(frozen[case.template], tmp_path / "world")
    regions = await _in_regions(world)
    await _move_role(world, "周经理", Role.MANAGER, regions[SOUTH])
    with ErrorLog() as errors:
        data = world.button(case.owner, case.label, case.prefix)
        before = await state(world)
        await world.press(ZHOU, data)
        answer = world.chat_of(ZHOU).toasts[-1]
        changed = changes(before, await state(world))
    assert errors.records == [], errors.describe(0)
    assert answer[0] not in REFUSALS and changed, answer
    assert await violations(world.db) == []
    await world.close()


async def test_stats_and_overdue_cover_the_region_or_the_company(
    frozen: dict[str, Frozen], tmp_path: Path
) -> None:
    """A 华东 manager's /stats and /overdue show 翠湖苑 and nothing of 阳光花园 (华南); a
    company manager's /stats shows both."""
    world = await World.thaw(frozen["item"], tmp_path / "world")
    regions = await _in_regions(world)
    await _move_role(world, "周经理", Role.MANAGER, regions[EAST])
    with ErrorLog() as errors:
        replies = {}
        for scope in ("region", "company"):
            if scope == "company":
                await _move_role(world, "周经理", Role.MANAGER, None)
            for command in ("stats", "overdue"):
                shown = len(world.chat_of(ZHOU).messages)
                await world.command(ZHOU, command)
                replies[scope, command] = "\n".join(world.chat_of(ZHOU).texts()[shown:])
    assert errors.records == [], errors.describe(0)
    assert SITE_B in replies["region", "stats"]
    for secret in SECRETS["manager of another site"]:
        assert secret not in replies["region", "stats"]
        assert secret not in replies["region", "overdue"]
    assert SITE_A in replies["company", "stats"] and SITE_B in replies["company", "stats"]
    await world.close()


async def test_inspectors_at_a_region_or_the_company_pick_the_sites_below(
    frozen: dict[str, Frozen], tmp_path: Path
) -> None:
    """钱其他 as 华东's inspector is offered 翠湖苑 only, and a forged choice of 阳光花园 is
    refused; as the company's (品质部) inspector he is offered both and inspects 阳光花园."""
    world = await World.thaw(frozen["item"], tmp_path / "world")
    regions = await _in_regions(world)
    await _move_role(world, "钱其他", Role.INSPECTOR, regions[EAST])
    with ErrorLog() as errors:
        await world.command(QIAN, "inspect")
        await world.tap(QIAN, "开始新的检查")
        offered_region = world.chat_of(QIAN).last.buttons
        site_a = world.button(WANG, SITE_A, "S:")
        screen = await screen_of(world, QIAN)
        forged = ":".join(["S", str(screen), *site_a.split(":")[2:]])
        before, shown = await state(world), len(world.chat_of(QIAN).messages)
        await world.press(QIAN, forged)
        forged_refused = refused(world, QIAN, shown) and not changes(before, await state(world))
        await _move_role(world, "钱其他", Role.INSPECTOR, None)
        await world.command(QIAN, "inspect")
        await world.tap(QIAN, "开始新的检查")
        offered_company = world.chat_of(QIAN).last.buttons
        await world.tap(QIAN, SITE_A, "S:")
        chosen = world.chat_of(QIAN).last.text
    assert errors.records == [], errors.describe(0)
    assert [label for row in offered_region for label, _ in row] == [SITE_B]
    assert forged_refused
    assert sorted(label for row in offered_company for label, _ in row) == sorted([SITE_A, SITE_B])
    assert chosen == render("choose_standard", site=SITE_A)
    assert await violations(world.db) == []
    await world.close()
