"""The one entry point for every incoming event, whatever the channel.

Each event is handled in one database transaction together with its idempotency key: the
conversation state, the answers and the outgoing messages commit together or not at all, and
a redelivered event is recognised and ignored.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from bot.core import actions, payload
from bot.core.actions import Action, SampleAction
from bot.core.conversation import ConversationState, Mode
from bot.core.events import Channel, EventKind, Incoming
from bot.core.messages import Outgoing
from bot.core.texts import render
from bot.delivery import Handoff
from bot.flows import (
    access,
    appeals,
    bulletin,
    commands,
    confirm,
    evidence,
    group_binding,
    inspection,
    manager,
    measure,
    plans,
    queued,
    settings_view,
    task_setup,
    tasks,
)
from bot.flows.catalog import StandardsCatalog
from bot.flows.context import FlowContext, FlowSettings
from bot.flows.inspection_view import (
    ITEM_MODES,
    Loaded,
    close_item_message,
    load,
    show_item,
    toggle_rules,
)
from standards.schema import Item
from storage.db import Database, Tx
from storage.errors import DuplicateEvent
from storage.records import Conversation, OutboxKind, StoredStandard

log = logging.getLogger(__name__)

# Stamped actions on an open inspection's screens: the inspection must be the conversation's,
# and for an item's actions the item its open one.
INSPECTION_ACTIONS = {
    Action.CONTENTS,
    Action.CONTENTS_SECTION,
    Action.JUMP,
    Action.PAUSE,
    Action.SUBMIT,
}
ITEM_ACTIONS = {
    Action.LEVEL,
    Action.NOT_APPLICABLE,
    Action.PHOTO,
    Action.NOTE,
    Action.PREVIOUS,
    Action.SAMPLE,
    Action.SAMPLE_STEP,
    Action.FIGURES,
    Action.RULES,
    Action.TASK_RESPONSIBLE,
    Action.TASK_SEVERITY,
    Action.TASK_DAYS,
    Action.TASK_REMARK,
    Action.TASK_CONFIRM,
}
# Item modes in which typed text is what the flow asked for (a note, a name or date, a figure).
INPUT_MODES = frozenset({Mode.NOTE, Mode.TASK, Mode.TASK_REMARK, Mode.FIGURE})


class FlowEngine:
    def __init__(
        self,
        db: Database,
        catalog: StandardsCatalog,
        settings: FlowSettings,
        clock: Callable[[], datetime],
        outbox: Handoff | None = None,
    ) -> None:
        self.db = db
        self.catalog = catalog
        self.settings = settings
        self.clock = clock
        self.outbox = outbox or Handoff({})
        self.standards_cache: dict[int, StoredStandard] = {}

    async def handle(self, event: Incoming, *, group: bool = False) -> bool:
        """Handle one event; False if it was a redelivery and changed nothing. The messages it
        queued go to the outbox workers as it commits (`Handoff`). `group`: a command sent in
        a group chat (`/bind`, `/unbind`: bot.flows.group_binding)."""
        key = event.event_key
        try:
            async with self.db.transaction(event_key=key) as tx:
                if group:
                    await group_binding.handle(tx, event)
                else:
                    await self._dispatch(tx, event)
                handed = await self.outbox.lease(tx)
        except DuplicateEvent:
            log.info("duplicate event %s ignored", key)
            return False
        except Exception:
            log.exception("event %s (%s) failed; nothing was changed", key, event.kind.value)
            async with self.db.transaction() as tx:
                await access.refuse(tx, event, "error")
                handed = await self.outbox.lease(tx)
        self.outbox.committed(handed)
        return True

    async def tell(self, channel: Channel, chat_id: str, template: str) -> None:
        """Queue a short notice to a chat outside any flow (nothing else changes): what an
        adapter says when it could not receive something the person sent."""
        notice = Outgoing(kind=OutboxKind.SEND, text=render(template))
        async with self.db.transaction() as tx:
            await tx.outbox.enqueue(channel, chat_id, notice.kind, notice.to_payload())
            handed = await self.outbox.lease(tx)
        self.outbox.committed(handed)

    async def _dispatch(self, tx: Tx, event: Incoming) -> None:
        resolved = await tx.identities.resolve_in_chat(event.channel, event.user_id, event.chat_id)
        if resolved is None:
            if event.kind is EventKind.COMMAND and event.command == "start" and event.args:
                person = await access.bind_by_invite(tx, event)
                if person is not None:
                    await self._welcome(tx, event, person.id)
                return
            await access.refuse(tx, event)
            return
        identity, person, conversation = resolved
        if identity.chat_id != event.chat_id and event.kind is not EventKind.BUTTON:
            await tx.identities.bind(person.id, event.channel, event.user_id, chat_id=event.chat_id)
        ctx = FlowContext(
            tx=tx,
            event=event,
            person=person,
            catalog=self.catalog,
            settings=self.settings,
            now=self.clock(),
            state=_state_of(conversation),
            standards_cache=self.standards_cache,
        )
        await self._route(ctx)
        if conversation is None:
            await tasks.deliver_pending(ctx, identity.bound_at)
        await tx.conversations.save(
            person.id,
            event.channel,
            event.chat_id,
            ctx.state.dump(),
            expected_version=conversation.version if conversation else 0,
        )

    async def _welcome(self, tx: Tx, event: Incoming, person_id: int) -> None:
        person = await tx.people.get(person_id)
        assert person is not None
        ctx = FlowContext(
            tx,
            event,
            person,
            self.catalog,
            self.settings,
            self.clock(),
            ConversationState(),
            standards_cache=self.standards_cache,
        )
        await ctx.reply(
            "welcome", name=person.name, roles=await access.role_rows(tx, person.id), bound=True
        )
        await tasks.deliver_pending(ctx)
        if await tx.conversations.get(person.id, event.channel, event.chat_id) is None:
            await tx.conversations.save(
                person.id,
                event.channel,
                event.chat_id,
                ConversationState().dump(),
                expected_version=0,
            )

    async def _route(self, ctx: FlowContext) -> None:
        event = ctx.event
        if event.kind is EventKind.COMMAND:
            await self._command(ctx)
        elif event.kind is EventKind.BUTTON:
            await self._button(ctx)
        elif event.kind in (EventKind.PHOTO, EventKind.DOCUMENT):
            await self._file(ctx)
        elif event.kind is EventKind.TEXT:
            await self._text(ctx)
        else:
            await ctx.reply("unsupported")
            await self._reshow(ctx)

    async def _command(self, ctx: FlowContext, command: str | None = None) -> None:
        """A /command, or the command a command word stands for (`command`)."""
        if command is None:
            command = commands.by_word(ctx.event.command) or ctx.event.command
        if command == "inspect":
            await inspection.start(ctx)
        elif command == "resume":
            await inspection.offer_resume(ctx)
        elif command == "pause":
            await inspection.pause(ctx)
        elif command == "status":
            await inspection.status(ctx)
        elif command == "tasks":
            await tasks.list_tasks(ctx)
        elif command == "stats":
            await manager.stats(ctx)
        elif command == "overdue":
            await manager.overdue(ctx)
        elif command == "report":
            await manager.report(ctx)
        elif command == "bulletin":
            await bulletin.ask(ctx)
        elif command == "settings":
            await settings_view.show(ctx)
        elif command == "plans":
            await plans.list_plans(ctx)
        elif command == "start":
            await ctx.reply(
                "welcome",
                name=ctx.person.name,
                roles=await access.role_rows(ctx.tx, ctx.person.id),
                bound=False,
                signed_in=ctx.channel is Channel.WEB,
            )
        elif command == "help":
            await self._help(ctx)
        else:
            await ctx.reply("unknown_command")
            await self._help(ctx)

    async def _help(self, ctx: FlowContext) -> None:
        await ctx.reply("help", commands=await commands.for_person(ctx.tx, ctx.person.id))

    async def _button(self, ctx: FlowContext) -> None:
        try:
            parts = payload.decode(ctx.event.payload)
            action = actions.find(Action, parts[0])
            match action:
                case Action.TASK:
                    await tasks.press(ctx, parts[1:])
                    return
                case Action.CONFIRMATION:
                    await self._confirmation(ctx, parts[1:])
                    return
                case Action.QUEUED:
                    await self._queued(ctx, parts[1:])
                    return
                case Action.PLAN_START if len(parts) == 2:
                    await self._start_planned(ctx, payload.as_int(parts[1]))
                    return
            stamp = payload.as_int(parts[1]) if len(parts) > 1 else -1
        except payload.PayloadError:
            await ctx.toast("stale_button", alert=True)
            return
        if action is None or stamp != ctx.screen:
            await ctx.toast("stale_button", alert=True)
            return
        try:
            await self._press(ctx, action, parts[2:])
        except (payload.PayloadError, IndexError, KeyError):
            await ctx.toast("stale_button", alert=True)

    async def _confirmation(self, ctx: FlowContext, parts: list[str]) -> None:
        """项目确认 and appeal buttons: they name what they act on, not a screen."""
        try:
            await confirm.press(ctx, parts)
        except (payload.PayloadError, IndexError, KeyError):
            await ctx.toast("stale_button", alert=True)

    async def _queued(self, ctx: FlowContext, parts: list[str]) -> None:
        """What the web page queued while offline: it names its item, not a screen."""
        try:
            await queued.press(ctx, parts)
        except (payload.PayloadError, IndexError, KeyError):
            await ctx.toast("stale_button", alert=True)

    async def _press(self, ctx: FlowContext, action: Action, args: list[str]) -> None:
        match action:
            case Action.SITE:
                await inspection.on_site(ctx, payload.as_int(args[0]))
                return
            case Action.STANDARD:
                await inspection.on_standard(ctx, payload.as_int(args[0]), payload.as_int(args[1]))
                return
            case Action.RESUME:
                await inspection.resume(ctx, payload.as_int(args[0]))
                return
            case Action.REPORT_SITE:
                await manager.report_site(ctx, payload.as_int(args[0]))
                return
            case Action.PLAN_CHOICE:
                choice = await plans.chosen(ctx, payload.as_int(args[0]))
                if choice is not None:
                    await inspection.begin(ctx, *choice, matched=True)
                return
            case Action.NEW_INSPECTION:
                await ctx.toast()
                await inspection.choose_site(ctx)
                return
        if action not in ITEM_ACTIONS | INSPECTION_ACTIONS:
            await ctx.toast("stale_button", alert=True)
            return
        inspection_id = payload.as_int(args[0])
        loaded = await load(ctx, inspection_id)
        if loaded is None or loaded.inspection.status not in inspection.UNFINISHED:
            await ctx.toast("inspection_closed", alert=True)
            return
        if ctx.state.insp != inspection_id:
            await ctx.toast("stale_button", alert=True)
            return
        if action in INSPECTION_ACTIONS:
            await self._inspection_action(ctx, loaded, action, args[1:])
            return
        item_no = payload.as_int(args[1])
        if ctx.state.no != item_no:
            await ctx.toast("stale_button", alert=True)
            return
        item = loaded.standard.item(item_no)
        await self._item_action(ctx, loaded, item, action, args[2:])

    async def _item_action(
        self, ctx: FlowContext, loaded: Loaded, item: Item, action: Action, rest: list[str]
    ) -> None:
        match action:
            case Action.LEVEL:
                await inspection.answer(ctx, loaded, item, payload.as_int(rest[0]))
            case Action.NOT_APPLICABLE:
                await inspection.not_applicable(ctx, loaded, item)
            case Action.PHOTO:
                await evidence.ask_photo(ctx, item)
            case Action.NOTE:
                await evidence.ask_note(ctx, item)
            case Action.PREVIOUS:
                await inspection.previous(ctx, loaded, item)
            case Action.SAMPLE:
                await measure.start_sample(ctx, loaded, item)
            case Action.SAMPLE_STEP:
                step = actions.find(SampleAction, rest[0])
                if step is None:
                    raise payload.PayloadError("not a sample step")
                await measure.on_sample(ctx, loaded, item, step)
            case Action.FIGURES:
                await measure.start_figures(ctx, loaded, item)
            case Action.RULES:
                await toggle_rules(ctx, loaded, item)
            case Action.TASK_RESPONSIBLE:
                await task_setup.choose_responsible(ctx, loaded, item, payload.as_int(rest[0]))
            case Action.TASK_SEVERITY:
                await task_setup.choose_severity(ctx, loaded, item, payload.as_int(rest[0]))
            case Action.TASK_DAYS:
                await task_setup.choose_days(ctx, loaded, item, payload.as_int(rest[0]))
            case Action.TASK_REMARK:
                await task_setup.ask_remark(ctx)
            case Action.TASK_CONFIRM:
                if await task_setup.confirm(ctx, loaded, item):
                    await inspection.after_answer(ctx, loaded, item)

    async def _start_planned(self, ctx: FlowContext, occurrence_id: int) -> None:
        """[开始检查] under an occurrence's notice (any time while its window is open)."""
        target = await plans.pinned_target(ctx, occurrence_id)
        if target is None:
            return
        await inspection.begin(ctx, *target, occurrence_id, matched=True)

    async def _inspection_action(
        self, ctx: FlowContext, loaded: Loaded, action: Action, args: list[str]
    ) -> None:
        match action:
            case Action.CONTENTS:
                await inspection.table_of_contents(ctx, loaded)
            case Action.CONTENTS_SECTION:
                await inspection.toc_section(ctx, loaded, payload.as_int(args[0]))
            case Action.JUMP:
                await inspection.jump(ctx, loaded, payload.as_int(args[0]))
            case Action.PAUSE:
                await inspection.pause(ctx)
            case Action.SUBMIT:
                await inspection.submit(ctx, loaded)

    async def _open_item(self, ctx: FlowContext) -> tuple[Any, Any] | None:
        """The inspection and item the conversation currently has open, if any."""
        inspection_id, item_no = ctx.state.insp, ctx.state.no
        if ctx.state.mode not in ITEM_MODES or inspection_id is None:
            return None
        loaded = await load(ctx, inspection_id)
        if loaded is None or loaded.inspection.status not in inspection.UNFINISHED:
            return None
        if item_no is None:
            return None
        return loaded, loaded.standard.item(item_no)

    async def _file(self, ctx: FlowContext) -> None:
        file = ctx.event.file
        if file is None:
            await ctx.reply("unsupported")
            return
        if await evidence.refuse_unusable(ctx, file):
            return
        if ctx.state.mode is Mode.FIX:
            await tasks.on_file(ctx, file)
            return
        if ctx.state.mode in confirm.MODES:
            await confirm.on_file(ctx, file)
            return
        opened = await self._open_item(ctx)
        if opened is None:
            await ctx.reply("photo_no_item")
            return
        loaded, item = opened
        await evidence.attach_file(ctx, loaded, item, file)

    async def _text(self, ctx: FlowContext) -> None:
        if ctx.state.mode in tasks.TASK_MODES and await tasks.on_text(ctx, ctx.event.text):
            return
        if ctx.state.mode in confirm.MODES and await confirm.on_text(ctx, ctx.event.text):
            return
        if ctx.state.mode in appeals.MODES and await appeals.on_text(ctx, ctx.event.text):
            return
        opened = await self._open_item(ctx)
        mode = ctx.state.mode
        text = ctx.event.text
        word = commands.by_word(text)
        if word is not None and (opened is None or mode not in INPUT_MODES):
            await self._command(ctx, word)
            return
        if opened is None:
            await ctx.reply("idle_hint", commands=await commands.for_person(ctx.tx, ctx.person.id))
            return
        loaded, item = opened
        if mode is Mode.NOTE:
            await evidence.save_note(ctx, loaded, item, text)
        elif mode in (Mode.TASK, Mode.TASK_REMARK):
            await task_setup.on_text(ctx, loaded, item, text)
        elif mode is Mode.FIGURE:
            await measure.on_figure_text(ctx, loaded, item, text)
        elif not (mode is Mode.ITEM and await measure.typed_on_card(ctx, loaded, item, text)):
            await self._reshow(ctx)

    async def _reshow(self, ctx: FlowContext) -> None:
        opened = await self._open_item(ctx)
        if opened is not None and ctx.state.mode is Mode.ITEM:
            loaded, item = opened
            await close_item_message(ctx, loaded, item)
            await ctx.reply("text_hint", item=item)
            await show_item(ctx, loaded, item)


def _state_of(conversation: Conversation | None) -> ConversationState:
    """The stored state; one that does not validate (written by hand, or by a version that
    stored something else) starts the conversation afresh instead of failing every event."""
    if conversation is None:
        return ConversationState()
    try:
        return ConversationState.model_validate(conversation.state)
    except ValidationError as exc:
        log.warning(
            "conversation %s: stored state does not validate, starting afresh: %s",
            conversation.id,
            "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()),
        )
        return ConversationState.restart(conversation.state)
