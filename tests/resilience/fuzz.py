"""Random events for the flows: what they are, how to generate them (hypothesis or a seeded
random walk) and how to play one against a World while checking that nothing went wrong.

A step names an actor and a kind of event; button steps are resolved against what the chats
show at that moment (the newest keyboard, any button ever shown, another person's button, a
mutated or forged payload, or raw bytes), so a walk can go deep into real conversations.
"""

from __future__ import annotations

import logging
import random
import string
from dataclasses import dataclass, field
from types import TracebackType

from hypothesis import strategies as st

from bot.core.actions import Action, ConfirmAction, TaskAction
from bot.core.events import EventKind, Incoming, StoredFile
from tests.resilience.world import ACTORS, INVITE_CODE, Actor, World

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
    "report",
    "cancel",
    "",
    "x" * 40,
    "inspect@pinjian_bot",
)
# Every action a button of this bot can carry, from the registry (bot/core/actions.py): those
# whose sub-action comes next (`K:ACTION:…`, `A:ACTION:…`) with each sub-action, and a few codes
# no button carries.
_COMPOUND = {Action.TASK: TaskAction, Action.CONFIRMATION: ConfirmAction}
BUTTON_KINDS = (
    [action.value for action in Action]
    + [f"{action}:{sub}" for action, subs in _COMPOUND.items() for sub in subs]
    + ["Z", "l", ""]
)
TEXTS = (
    "张三",
    "李四",
    "孙五",
    "张",
    "王检查",
    "12月30日",
    "2026-12-01",
    "2026-02-30",
    "明天",
    "下周一",
    "+3",
    "3天",
    "95",
    "100%",
    "99.5 ％",
    "0",
    "-1",
    "1e309",
    "nan",
    "inf",
    "1,000",
    "１００",
    " ",
    "/",
    "//",
    "/start",
    f"/start {INVITE_CODE}",
    "/start code-does-not-exist",
    "99999999999999999999",
    "<b>粗体</b> & <script>",
    "照片看不清",
    "需要等供应商到货",
    "1",
    "2",
    "确认",
)
DOCUMENTS = ("image", "pdf", "photo-too-large", "pdf-too-large", "unnamed", "no-file")
TOO_LARGE = 30 * 1_048_576


@dataclass(frozen=True)
class Step:
    """One random event. `who` indexes ACTORS (-1: the person whose state is under test)."""

    who: int
    kind: str
    text: str = ""
    number: int = 0

    def __str__(self) -> str:
        shown = self.text if len(self.text) < 80 else f"{self.text[:40]}…({len(self.text)})"
        return f"{self.kind}(who={self.who}, text={shown!r}, number={self.number})"


# ---------------------------------------------------------------------- generation

_WORDS = st.one_of(
    st.integers(0, 20).map(str),
    st.integers(0, 10**13).map(str),
    st.sampled_from(["", "p", "f", "u", "d", "x", "-1", "1.5", "💥", "K", "OK"]),
)
_FORGED_ARGS = st.lists(_WORDS, max_size=5).map(":".join)
_RAW = st.one_of(
    st.text(max_size=64).filter(lambda t: len(t.encode()) <= 64),
    st.text(alphabet=string.printable, max_size=64),
    st.binary(max_size=64)
    .map(lambda b: b.decode("latin-1"))
    .filter(lambda t: len(t.encode()) <= 64),
)
_TEXT = st.one_of(
    st.sampled_from(TEXTS),
    st.text(max_size=60),
    st.integers(1000, 6000).map(lambda n: "长文本" * (n // 3)),
)


def step_strategy() -> st.SearchStrategy[Step]:
    who = st.one_of(st.just(-1), st.integers(0, len(ACTORS) - 1))
    number = st.integers(0, 10**6)
    return st.one_of(
        st.builds(Step, who, st.sampled_from(["current", "seen", "foreign"]), st.just(""), number),
        st.builds(Step, who, st.just("mutate"), _WORDS, number),
        st.builds(Step, who, st.just("forge"), _FORGED_ARGS, number),
        st.builds(Step, who, st.just("raw"), _RAW),
        st.builds(Step, who, st.just("text"), _TEXT),
        st.builds(Step, who, st.just("command"), _TEXT, st.integers(0, len(COMMANDS) - 1)),
        st.builds(Step, who, st.just("photo"), _TEXT, st.integers(0, 7)),
        st.builds(Step, who, st.just("document"), st.just(""), st.integers(0, len(DOCUMENTS))),
        st.builds(Step, who, st.just("other")),
    )


WALK_WEIGHTS = {
    "current": 45,
    "seen": 7,
    "foreign": 5,
    "mutate": 5,
    "forge": 5,
    "raw": 3,
    "text": 14,
    "command": 8,
    "photo": 5,
    "document": 2,
    "other": 1,
}


def random_step(rng: random.Random) -> Step:
    """A step for the seeded random walk: mostly real buttons, so it goes deep."""
    kind = rng.choices(list(WALK_WEIGHTS), weights=list(WALK_WEIGHTS.values()))[0]
    who = -1 if rng.random() < 0.45 else rng.randrange(len(ACTORS))
    number = rng.randrange(10**6)
    text = ""
    if kind in ("text", "command", "photo"):
        roll = rng.random()
        if roll < 0.75:
            text = rng.choice(TEXTS)
        elif roll < 0.95:
            text = "".join(
                rng.choice("张三0123456789%月日-+ 天 abc") for _ in range(rng.randrange(12))
            )
        else:
            text = "长" * rng.randrange(1000, 6000)
    elif kind == "mutate":
        text = rng.choice(["0", "1", "2", "3", "999", "", "x", str(rng.randrange(10**13))])
    elif kind == "forge":
        text = ":".join(str(rng.randrange(30)) for _ in range(rng.randrange(5)))
    elif kind == "raw":
        size = rng.randrange(65)
        if rng.random() < 0.5:
            text = "".join(rng.choice(string.printable) for _ in range(size))
        else:
            text = "".join(chr(rng.randrange(0x4E00, 0x9FFF)) for _ in range(size // 3))
    if kind == "command":
        number = rng.randrange(len(COMMANDS))
    return Step(who, kind, text, number)


# ---------------------------------------------------------------------- playing


class ErrorLog(logging.Handler):
    """Collects ERROR records of the bot's loggers while installed (`with ErrorLog() as log`)."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def __enter__(self) -> ErrorLog:
        logging.getLogger("bot").addHandler(self)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        logging.getLogger("bot").removeHandler(self)

    def describe(self, start: int) -> str:
        formatter = logging.Formatter()
        return "\n".join(formatter.format(record) for record in self.records[start:])


@dataclass
class Player:
    """Plays steps on a world; `focus` is who -1 stands for."""

    world: World
    focus: Actor
    errors: ErrorLog
    played: list[str] = field(default_factory=list)

    def actor(self, step: Step) -> Actor:
        return self.focus if step.who < 0 else ACTORS[step.who % len(ACTORS)]

    async def play(self, step: Step) -> None:
        """Play one step; fails on an unexpected exception or a press answered ≠ once."""
        who = self.actor(step)
        chat = self.world.chat_of(who)
        errors, toasts = len(self.errors.records), len(chat.toasts)
        event = await self._event(who, step)
        self.played.append(f"{who[1]}: {step} -> {event.kind.value} {event.payload!r}")
        self.world.clock.advance(minutes=7)
        handled = await self.world.send(event)
        trail = "\n".join(self.played[-12:])
        assert handled, f"a new event was taken for a redelivery\n{trail}"
        if len(self.errors.records) > errors:
            raise AssertionError(f"unexpected exception\n{trail}\n{self.errors.describe(errors)}")
        answered = len(chat.toasts) - toasts
        expected = 1 if event.kind is EventKind.BUTTON else 0
        assert answered == expected, f"{answered} answers to the press\n{trail}"

    async def _event(self, who: Actor, step: Step) -> Incoming:
        world = self.world
        if step.kind in ("current", "seen", "foreign", "mutate", "forge", "raw"):
            data = self._payload(who, step)
            callback = f"cb{len(self.played)}"
            return world.event(who, EventKind.BUTTON, payload=data, callback_id=callback)
        if step.kind == "command":
            return _command(world, who, f"/{COMMANDS[step.number % len(COMMANDS)]} {step.text}")
        if step.kind == "text":
            if step.text.startswith("/"):
                return _command(world, who, step.text)
            return world.event(who, EventKind.TEXT, text=step.text)
        if step.kind == "photo":
            stored = await world.files.put(f"photo-{step.number % 8}".encode())
            file = StoredFile(stored.sha256, stored.size, "image/jpeg", f"p{step.number}")
            return world.event(who, EventKind.PHOTO, text=step.text[:1024], file=file)
        if step.kind == "document":
            return await _document(world, who, DOCUMENTS[step.number % len(DOCUMENTS)])
        return world.event(who, EventKind.OTHER)

    def _payload(self, who: Actor, step: Step) -> str:
        world = self.world
        own = world.seen.get(who, [])
        every = [data for shown in world.seen.values() for data in shown]
        if step.kind == "current":
            keyboard = next((m for m in reversed(world.chat_of(who).messages) if m.buttons), None)
            options = [data for row in keyboard.buttons for _, data in row] if keyboard else own
            return options[step.number % len(options)] if options else ""
        if step.kind == "seen" and own:
            return own[step.number % len(own)]
        if step.kind in ("seen", "foreign", "mutate") and every:
            data = every[step.number % len(every)]
            if step.kind != "mutate":
                return data
            parts = data.split(":")
            parts[step.number % len(parts)] = step.text
            return ":".join(parts)
        if step.kind == "forge":
            kind = BUTTON_KINDS[step.number % len(BUTTON_KINDS)]
            return f"{kind}:{step.text}" if step.text else kind
        return step.text


def _command(world: World, who: Actor, text: str) -> Incoming:
    """As the Telegram adapter reads `/command@bot args`."""
    head, _, args = text.partition(" ")
    command = head[1:].split("@", 1)[0].lower()
    return world.event(who, EventKind.COMMAND, command=command, args=args.strip())


async def _document(world: World, who: Actor, variant: str) -> Incoming:
    if variant == "no-file":
        return world.event(who, EventKind.PHOTO)
    if variant == "image":
        stored = await world.files.put(b"\xff\xd8\xff document photo")
        file = StoredFile(stored.sha256, stored.size, "image/jpeg", "d1", "现场.jpg")
    elif variant == "photo-too-large":
        file = StoredFile(None, TOO_LARGE, "image/jpeg", "d2", "huge.jpg", too_large=True)
        return world.event(who, EventKind.PHOTO, file=file)
    elif variant == "pdf-too-large":
        file = StoredFile(None, TOO_LARGE, "application/pdf", "d3", "huge.pdf")
    elif variant == "unnamed":
        file = StoredFile(None, 10, "application/octet-stream", "d4")
    else:
        file = StoredFile(None, 2048, "application/pdf", "d5", "合同.pdf")
    return world.event(who, EventKind.DOCUMENT, file=file)
