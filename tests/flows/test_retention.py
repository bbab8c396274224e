"""The hourly retention job on a real SQLite file: what it forgets, what it keeps."""

from __future__ import annotations

import sqlalchemy as sa

from bot.retention import EVENT_KEY_DAYS, MESSAGE_DAYS, Retention
from storage.outbox import SentMark
from storage.records import Channel, OutboxKind
from storage.tables import (
    answer_revisions,
    answers,
    audit_log,
    evidence,
    notes,
    outbox,
    processed_events,
    task_events,
)
from tests.flows.harness import Harness

ENTERED = (answers, answer_revisions, notes, evidence, task_events, audit_log)


async def _count(harness: Harness, table: sa.Table, *where: sa.ColumnElement[bool]) -> int:
    async with harness.db.read() as tx:
        stmt = sa.select(sa.func.count()).select_from(table).where(*where)
        return int(await tx.connection.scalar(stmt) or 0)


async def test_stale_presses_and_old_messages_are_forgotten_the_rest_is_kept(
    harness: Harness,
) -> None:
    seeded = await harness.seed()
    user = harness.user(101)
    await user.command("start", seeded["codes"]["王检查"])
    await user.command("inspect")
    await user.tap("阳光花园")
    stale = user.chat.with_buttons().button("1分")
    await user.photo(b"item-1")
    await user.tap("备注")
    await user.text("门岗记录缺页")
    await user.tap("1分 符合")
    item = user.chat.with_buttons()
    presses = [await user.press(stale) for _ in range(300)]
    assert user.chat.toasts[-1][0]  # each press was answered (stale)
    callbacks = outbox.c.kind == OutboxKind.ANSWER_CALLBACK
    assert await _count(harness, outbox, callbacks) >= 300
    async with harness.db.transaction() as tx:
        own = await tx.outbox.enqueue(
            Channel.WEB, "9", OutboxKind.SEND, {"text": "我打的字", "extra": {"web_from_person": 1}}
        )
        await tx.outbox.mark_sent_many([SentMark(own.id, str(own.id))])
    kept = {table.name: await _count(harness, table) for table in ENTERED}
    assert kept["answers"] == 1 and kept["notes"] == 1 and kept["evidence"] == 1

    harness.clock.advance(days=MESSAGE_DAYS, hours=1)
    forgotten = await Retention(harness.db, harness.clock, batch=50).run()
    assert forgotten is not None
    assert forgotten.callback_answers >= 300 and forgotten.messages > 0
    assert forgotten.event_keys >= 300
    assert await _count(harness, outbox, callbacks) == 0
    assert {table.name: await _count(harness, table) for table in ENTERED} == kept
    async with harness.db.read() as tx:
        assert await tx.outbox.get(own.id) is not None  # the web chat's transcript stays
        assert not await tx.events.seen(presses[0].key)
        telegram = (outbox.c.channel == Channel.TELEGRAM, outbox.c.kind == OutboxKind.SEND)
        rows = (await tx.connection.execute(sa.select(outbox.c.ref).where(*telegram))).all()
        person = seeded["people"]["王检查"].id
        conversation = await tx.conversations.get(person, Channel.TELEGRAM, "101")
    assert conversation is not None
    assert [row.ref for row in rows] == [conversation.state["item_ref"]]  # the open item's

    await user.photo(b"item-2")  # the open item's message is edited in place, as before
    assert item.edits == 1 and "（未作答）" in item.text  # into its record
    assert "已附：1张照片" in user.chat.with_buttons().text  # and the item comes again


async def test_one_process_runs_each_hour_and_event_keys_go_after_the_window(
    harness: Harness,
) -> None:
    async with harness.db.transaction() as tx:
        for n in range(12):
            await tx.events.record(f"telegram:old{n}")
    harness.clock.advance(days=EVENT_KEY_DAYS, hours=1)
    async with harness.db.transaction() as tx:
        await tx.events.record("telegram:recent")
    first, second = (
        Retention(harness.db, harness.clock, batch=5),
        Retention(harness.db, harness.clock),
    )
    done = await first.run()
    assert done is not None and done.event_keys == 12
    assert await second.run() is None  # the same hour, another process: claimed already
    harness.clock.advance(hours=1)
    again = await second.run()
    assert again is not None and again.event_keys == 0
    async with harness.db.read() as tx:
        assert await tx.events.seen("telegram:recent")
        assert not await tx.events.seen("telegram:old0")
    assert await _count(harness, processed_events) == 1 + 2  # recent and the two runs' claims
