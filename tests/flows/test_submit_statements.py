"""What the 提交检查 press asks of the database, pinned: the slowest kind of step on
PostgreSQL, and every inspector submits within about a minute of the others at the end of a
round (the PostgreSQL p99 goal, docs/BENCHMARKS.md). Each row is read once, and every message
goes to the outbox in one statement."""

from __future__ import annotations

import pytest

from bot.core.events import EventKind
from tests.flows.harness import Harness
from tests.flows.test_inspection import HALF, ZERO, answer_all, begin, inspector
from tests.flows.test_tap_statements import recording


async def test_a_submit_reads_each_row_once_and_queues_its_messages_in_one_statement(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    user, seeded = await inspector(harness)
    manager = harness.user(301)
    await manager.command("start", seeded["codes"]["赵经理"])
    await begin(user)
    await answer_all(user)
    press = user.chat.with_buttons().button("✅ 提交检查")
    event = user._event(EventKind.BUTTON, payload=press, callback_id="cb-pinned")
    with recording(harness.db.engine.sync_engine, monkeypatch) as seen:
        await harness.send(event, flush=False)
    assert [s.summary for s in seen] == [
        "INSERT processed_events",
        "SELECT identities",
        "SELECT inspections",
        "SELECT answers",
        "SELECT settings",
        "INSERT confirmations",
        "SELECT people",  # the site's managers (项目确认)
        "SELECT people",  # every manager the result goes to, and their chats
        "SELECT identities",
        "UPDATE inspections",
        "SELECT inspections",  # the previous inspection, for the changes
        "SELECT tasks",
        "SELECT people",  # the tasks' 责任人, all at once
        "SELECT settings",  # the project groups (bot.flows.group_posts)
        "SELECT chat_groups",
        "SELECT notes",  # the findings' notes, all at once
        "UPDATE conversations",
        # Every message the press queued, in one statement, as the transaction ends: the
        # press answered, 「✅ 全部 62 项已提交。」, the result to the inspector and to the
        # manager, the 3 report files to both, each finding and the result to confirm.
        "INSERT outbox",
    ]
    if harness.db.dialect == "sqlite":
        # The rest each in one hand-over to aiosqlite's thread (storage.direct).
        assert [s.summary for s in seen if not s.direct] == [
            "SELECT people",  # the 责任人 (an IN list)
            "SELECT chat_groups",
        ]
    await harness.flush()
    assert "总分 <b>49 / 58</b>（84.5%）" in user.chat.last.text
    told = [m for m in manager.chat.messages if m.buttons]
    assert [m.labels for m in told] == [
        *([f"申诉 第{no}项"] for no in sorted(HALF | ZERO)),
        ["✅ 全部确认"],
    ]
