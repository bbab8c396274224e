"""A two-site company for the channel-neutral resilience tests, driven into every
conversation state, and frozen as templates that each test run copies.

Site A (阳光花园): 王检查 inspector, 张三 and 李四 responsible, 赵经理 manager.
Site B (翠湖苑): 钱其他 inspector, 孙五 responsible, 周经理 manager.
Everyone is bound on Telegram (user id = chat id below); 王检查 and 张三 also on the web
chat. 901 and 902 are strangers; 903 holds 吴新's unused invite code. Two standards are
offered (the full community-culture one and a five-item quick check), so choosing a standard
is a state too.
"""

from __future__ import annotations

import copy
import itertools
import shutil
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from bot.core.events import EventKind, Incoming, StoredFile
from bot.delivery import Delivery
from bot.flows.catalog import StandardsCatalog
from bot.flows.router import FlowEngine
from standards.loader import BUILTIN_DIR, load_file
from standards.schema import Section, Standard
from storage.records import Channel, Person, Role
from tests.flows.harness import Chat, Harness

FULL = load_file(BUILTIN_DIR / "community-culture.yaml")
SITE_A, SITE_B = "阳光花园", "翠湖苑"
Actor = tuple[Channel, str]

PEOPLE: tuple[tuple[str, str, Role, str], ...] = (
    ("王检查", SITE_A, Role.INSPECTOR, "101"),
    ("张三", SITE_A, Role.RESPONSIBLE, "102"),
    ("李四", SITE_A, Role.RESPONSIBLE, "103"),
    ("赵经理", SITE_A, Role.MANAGER, "104"),
    ("钱其他", SITE_B, Role.INSPECTOR, "201"),
    ("孙五", SITE_B, Role.RESPONSIBLE, "202"),
    ("周经理", SITE_B, Role.MANAGER, "204"),
)
WEB_WANG: Actor = (Channel.WEB, "web-wang")
WEB_ZHANG: Actor = (Channel.WEB, "web-zhang")
STRANGERS: tuple[Actor, ...] = ((Channel.TELEGRAM, "901"), (Channel.TELEGRAM, "902"))
INVITED: Actor = (Channel.TELEGRAM, "903")
INVITE_CODE = "invite-wu-903"
ACTORS: tuple[Actor, ...] = (
    *((Channel.TELEGRAM, uid) for *_, uid in PEOPLE),
    WEB_WANG,
    WEB_ZHANG,
    *STRANGERS,
    INVITED,
)


def quick_standard() -> Standard:
    """Five items (a sample and a measured figure among them) in two sections."""
    first = FULL.sections[0]
    second = FULL.sections[1].items[0].model_copy(update={"no": 5})
    return Standard(
        id="quick-check",
        version="1",
        title="社区文化快检",
        sections=(
            first.model_copy(update={"items": first.items[:4]}),
            Section(code="二", title=FULL.sections[1].title, items=(second,)),
        ),
    )


def catalog() -> StandardsCatalog:
    quick = quick_standard()
    return StandardsCatalog({FULL.id: FULL, quick.id: quick})


@dataclass
class Frozen:
    """A world at rest: its data directory and what its chats showed."""

    path: Path
    chats: dict[tuple[Channel, str], Chat]
    seen: dict[tuple[Channel, str], list[str]]
    next_id: int
    next_key: int
    now: datetime
    people: dict[str, Person]


class World(Harness):
    """The harness with the company above; remembers every payload each chat was shown."""

    def __init__(self, tmp: Path) -> None:
        super().__init__(tmp)
        self.seen: dict[tuple[Channel, str], list[str]] = {}
        self.people: dict[str, Person] = {}
        self.journal: list[tuple[datetime, Incoming]] = []

    async def start(self, *, migrate: bool = True) -> None:
        if migrate:
            await super().start()
        else:
            await self.db.open()
            self.start_workers()
        self.engine = FlowEngine(self.db, catalog(), self.settings, self.clock)

    async def send(self, event: Incoming, *, flush: bool = True) -> bool:
        """Handle one event (kept in the journal with the time it came)."""
        self.journal.append((self.clock(), event))
        return await super().send(event, flush=flush)

    async def _record(self, delivery: Delivery) -> str | None:
        message = delivery.message
        shown = self.seen.setdefault((message.channel, message.chat_id), [])
        shown.extend(data for row in message.payload.get("buttons", []) for _, data in row)
        return await super()._record(delivery)

    # ------------------------------------------------------------------ people and events

    async def populate(self) -> None:
        async with self.db.transaction() as tx:
            sites = {
                name: await tx.sites.create(name, timezone="Asia/Shanghai")
                for name in (SITE_A, SITE_B)
            }
            for name, site, role, uid in PEOPLE:
                person = await tx.people.create(name)
                await tx.roles.grant(person.id, sites[site].id, role)
                await tx.identities.bind(person.id, Channel.TELEGRAM, uid, chat_id=uid)
                self.people[name] = person
            for name, (channel, uid) in (("王检查", WEB_WANG), ("张三", WEB_ZHANG)):
                await tx.identities.bind(self.people[name].id, channel, uid, chat_id=uid)
            newcomer = await tx.people.create("吴新")
            await tx.roles.grant(newcomer.id, sites[SITE_A].id, Role.INSPECTOR)
            await tx.invites.create(
                INVITE_CODE, newcomer.id, expires_at=self.clock() + timedelta(days=30)
            )

    def event(self, actor: Actor, kind: EventKind, **values: Any) -> Incoming:
        channel, uid = actor
        return Incoming(
            channel=channel,
            user_id=uid,
            chat_id=uid,
            key=f"r{next(self._keys)}",
            kind=kind,
            display_name=f"user{uid}",
            **values,
        )

    async def command(self, actor: Actor, command: str, args: str = "") -> Incoming:
        event = self.event(actor, EventKind.COMMAND, command=command, args=args)
        await self.send(event)
        return event

    async def say(self, actor: Actor, text: str) -> Incoming:
        event = self.event(actor, EventKind.TEXT, text=text)
        await self.send(event)
        return event

    async def press(self, actor: Actor, data: str) -> Incoming:
        event = self.event(
            actor, EventKind.BUTTON, payload=data, callback_id=f"cb{next(self._keys)}"
        )
        await self.send(event)
        return event

    async def photo(self, actor: Actor, data: bytes, caption: str = "") -> Incoming:
        stored = await self.files.put(data)
        file = StoredFile(stored.sha256, stored.size, "image/jpeg", f"f-{stored.sha256[:10]}")
        event = self.event(actor, EventKind.PHOTO, text=caption, file=file)
        await self.send(event)
        return event

    def chat_of(self, actor: Actor) -> Chat:
        return self.chat(actor[1], actor[0])

    def button(self, actor: Actor, label: str, prefix: str = "") -> str:
        """The payload of the newest button labelled `label` (starting with `prefix`)."""
        for message in reversed(self.chat_of(actor).messages):
            for row in message.buttons:
                for text, data in row:
                    if label in text and data.startswith(prefix):
                        return data
        raise AssertionError(f"no button {label!r} in chat {actor}")

    async def tap(self, actor: Actor, label: str, prefix: str = "") -> Incoming:
        return await self.press(actor, self.button(actor, label, prefix))

    # ------------------------------------------------------------------ freezing

    async def freeze(self) -> Frozen:
        """Close the database and describe the world so that `thaw` can copy it."""
        await self.flush()
        await self.close()
        ids = [m.id for chat in self.chats.values() for m in chat.messages]
        return Frozen(
            path=self.tmp,
            chats=copy.deepcopy(self.chats),
            seen=copy.deepcopy(self.seen),
            next_id=max(ids, default=0) + 1,
            next_key=next(self._keys),
            now=self.clock(),
            people=dict(self.people),
        )

    @classmethod
    async def thaw(cls, frozen: Frozen, dest: Path, *, keys_from: int = 0) -> World:
        """A running copy of a frozen world in `dest` (which must not exist yet); its event
        keys continue the template's, `keys_from` further on."""
        shutil.copytree(frozen.path, dest)
        world = cls(dest)
        world.chats = copy.deepcopy(frozen.chats)
        world.seen = copy.deepcopy(frozen.seen)
        world.people = dict(frozen.people)
        world._ids = itertools.count(frozen.next_id)
        world._keys = itertools.count(frozen.next_key + keys_from)
        world.clock.now = frozen.now
        await world.start(migrate=False)
        return world


def actor(name: str) -> Actor:
    return next((Channel.TELEGRAM, uid) for person, *_, uid in PEOPLE if person == name)


WANG, ZHANG, LI, ZHAO = (actor(n) for n in ("王检查", "张三", "李四", "赵经理"))
QIAN, SUN, ZHOU = (actor(n) for n in ("钱其他", "孙五", "周经理"))


async def base(world: World) -> None:
    """Tasks in every status, a pending extension, two inspections under way.

    王检查 ends on item 4 of the full standard; tasks: #1 张三 待复查, #2 李四 已完成,
    #3 张三 待整改 with a pending extension request, #4 孙五 (site B) 待整改.
    """
    await world.populate()
    await world.command(WANG, "inspect")
    await world.tap(WANG, SITE_A)
    await world.tap(WANG, FULL.title)
    await world.photo(WANG, b"finding-photo-1")
    await world.tap(WANG, "0分")
    await world.tap(WANG, "确认创建")
    await world.tap(WANG, "0.5分")
    await world.tap(WANG, "李四", "TR")
    await world.tap(WANG, "确认创建")
    await world.tap(WANG, "0分")
    await world.tap(WANG, "张三", "TR")
    await world.tap(WANG, "确认创建")
    await world.tap(ZHANG, "已整改", "K:F:1:")
    await world.photo(ZHANG, b"fix-photo-1")
    await world.tap(ZHANG, "提交复查")
    await world.tap(LI, "已整改", "K:F:2:")
    await world.photo(LI, b"fix-photo-2")
    await world.tap(LI, "提交复查")
    await world.tap(WANG, "通过", "K:OK:2:")
    await world.tap(ZHANG, "申请延期", "K:E:3:")
    await world.tap(ZHANG, "+7天")
    await world.say(ZHANG, "等材料到货")
    await world.command(QIAN, "inspect")
    await world.tap(QIAN, SITE_B)
    await world.tap(QIAN, FULL.title)
    await world.tap(QIAN, "0分")
    await world.tap(QIAN, "确认创建")
    for who in (LI, ZHAO, ZHOU, SUN):
        await world.command(who, "help")
    await world.command(WEB_WANG, "status")
    await world.command(WEB_ZHANG, "tasks")


async def _submit(world: World) -> None:
    await world.command(WANG, "pause")
    await world.command(WANG, "inspect")
    await world.tap(WANG, "开始新的检查")
    await world.tap(WANG, SITE_A)
    await world.tap(WANG, "社区文化快检")
    for _ in range(5):
        await world.tap(WANG, "1分")


async def _choose_site(world: World) -> None:
    await world.command(WANG, "inspect")
    await world.tap(WANG, "开始新的检查")


async def _choose_standard(world: World) -> None:
    await _choose_site(world)
    await world.tap(WANG, SITE_A)


async def _sample(world: World) -> None:
    await world.tap(WANG, "抽样记录")
    await world.tap(WANG, "✓")


async def _task(world: World) -> None:
    await world.tap(WANG, "0分", "L:")


async def _task_remark(world: World) -> None:
    await _task(world)
    await world.tap(WANG, "备注", "TM:")


async def _ext_reason(world: World) -> None:
    await world.tap(SUN, "申请延期")
    await world.tap(SUN, "+7天")


Driver = Callable[[World], Awaitable[None]]


async def _nothing(world: World) -> None:
    return None


async def _paused(world: World) -> None:
    await world.command(WANG, "pause")


async def _note(world: World) -> None:
    await world.tap(WANG, "备注", "M:")


async def _figure(world: World) -> None:
    await world.tap(WANG, "录入数据")


async def _toc(world: World) -> None:
    await world.tap(WANG, "目录")


async def _resume(world: World) -> None:
    await world.command(WANG, "resume")


async def _fix(world: World) -> None:
    await world.tap(ZHANG, "已整改", "K:F:3:")


async def _reject_reason(world: World) -> None:
    await world.tap(WANG, "退回", "K:RJ:1:")


async def _ext_date(world: World) -> None:
    await world.tap(SUN, "申请延期")


STATES: dict[str, tuple[Actor, Driver]] = {
    "item": (WANG, _nothing),
    "idle": (WANG, _paused),
    "note": (WANG, _note),
    "task": (WANG, _task),
    "task_remark": (WANG, _task_remark),
    "sample": (WANG, _sample),
    "figure": (WANG, _figure),
    "toc": (WANG, _toc),
    "submit": (WANG, _submit),
    "choose_site": (WANG, _choose_site),
    "choose_standard": (WANG, _choose_standard),
    "resume": (WANG, _resume),
    "fix": (ZHANG, _fix),
    "reject_reason": (WANG, _reject_reason),
    "ext_date": (SUN, _ext_date),
    "ext_reason": (SUN, _ext_reason),
}
"""Conversation state (the `mode` it leaves) → the person in it and how to get there."""


async def templates(root: Path) -> dict[str, Frozen]:
    """One frozen world per conversation state, all grown from the same base."""
    world = World(root / "base")
    await world.start()
    await base(world)
    frozen_base = await world.freeze()
    frozen: dict[str, Frozen] = {}
    for name, (_, drive) in STATES.items():
        copy_ = await World.thaw(frozen_base, root / name)
        await drive(copy_)
        frozen[name] = await copy_.freeze()
    return frozen


async def mode_of(world: World, who: Actor) -> str | None:
    """The conversation mode the person's chat is in."""
    person_id = await person_of(world, who)
    if person_id is None:
        return None
    async with world.db.read() as tx:
        conversation = await tx.conversations.get(person_id, who[0], who[1])
    mode = conversation.state.get("mode") if conversation else None
    return mode if isinstance(mode, str) else None


async def person_of(world: World, who: Actor) -> int | None:
    async with world.db.read() as tx:
        resolved = await tx.identities.resolve(who[0], who[1])
    return resolved[1].id if resolved else None
