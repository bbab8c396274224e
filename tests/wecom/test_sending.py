"""Outbox rows rendered for WeCom: texts, cards, edits in place or as new messages, photos and
documents through media/upload, toasts, and failures the outbox retries or gives up on."""

from __future__ import annotations

from typing import Any

import pytest

from bot.core.messages import Button, Outgoing
from bot.handlers.wecom.api import SendResult, WeComAPIError
from storage.records import Channel, OutboxKind, OutboxStatus
from tests.fakes.wecom_api import FakeWeComAPI
from tests.wecom.runner import FakeClock, WeComRunner

pytestmark = pytest.mark.database_neutral

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(64))


async def enqueue(
    bot: WeComRunner,
    kind: OutboxKind,
    *,
    chat_id: str = "u1",
    ref: str | None = None,
    edit_ref: str | None = None,
    **values: Any,
) -> int:
    message = Outgoing(kind=kind, ref=ref, edit_ref=edit_ref, **values)
    async with bot.db.transaction() as tx:
        row = await tx.outbox.enqueue(
            Channel.WECOM, chat_id, kind, message.to_payload(), ref=ref, edit_of_ref=edit_ref
        )
    return row.id


def keyboard(*labels: str, screen: int = 1) -> tuple[tuple[Button, ...], ...]:
    return tuple((Button(label, f"L:{screen}:1:1:{i}"),) for i, label in enumerate(labels))


async def status_of(bot: WeComRunner, outbox_id: int) -> OutboxStatus:
    async with bot.db.read() as tx:
        row = await tx.outbox.get(outbox_id)
    assert row is not None
    return row.status


async def test_text_markdown_and_long_text(bot: WeComRunner, fake: FakeWeComAPI) -> None:
    await enqueue(bot, OutboxKind.SEND, text="记录 &lt;无签字&gt; &amp; 缺页")
    await enqueue(bot, OutboxKind.SEND, text="<b>章节小结</b>\n得分 <i>5</i>")
    long_text = "\n".join(f"第{n}行：" + "检" * 100 for n in range(30))
    await enqueue(bot, OutboxKind.SEND, text=long_text)
    await bot.settle()
    sent = fake.sent_to("u1")
    assert [(m.msgtype, m.content) for m in sent[:2]] == [
        ("text", "记录 <无签字> & 缺页"),
        ("markdown", "**章节小结**\n得分 5"),
    ]
    pieces = [m.content or "" for m in sent[2:]]
    assert len(pieces) > 1
    assert all(len(p.encode()) <= 2048 for p in pieces)
    assert "\n".join(pieces) == long_text


async def test_cards_levels_first_and_a_second_card(bot: WeComRunner, fake: FakeWeComAPI) -> None:
    rows = (
        *keyboard("1分 符合", "0.5分 部分符合", "0分 不符合"),
        (Button("不适用", "NA:1:1:1"), Button("📷 照片", "P:1:1:1"), Button("📝 备注", "M:1:1:1")),
        (Button("⬅ 上一项", "V:1:1:1"), Button("☰ 目录", "C:1:1"), Button("⏸ 暂停", "PA:1:1")),
    )
    text = "<b>【一、客户管理】第 1/62 项</b>\n<b>1. 客户台帐</b>\n检查方法：检查档案"
    await enqueue(bot, OutboxKind.SEND, text=text, buttons=rows)
    await bot.settle()
    first, second = (m.body["template_card"] for m in fake.sent_to("u1"))
    assert first["main_title"] == {"title": "【一、客户管理】第 1/62 项"}
    assert first["sub_title_text"] == "1. 客户台帐\n检查方法：检查档案"
    assert [b["text"] for b in first["button_list"]] == [
        "1分 符合",
        "0.5分 部分符合",
        "0分 不符合",
        "不适用",
        "📷 照片",
        "📝 备注",
    ]
    assert [b["key"] for b in first["button_list"]][:2] == ["L:1:1:1:0", "L:1:1:1:1"]
    assert second["main_title"] == {"title": "更多操作"}
    assert [b["text"] for b in second["button_list"]] == ["⬅ 上一项", "☰ 目录", "⏸ 暂停"]
    assert first["task_id"] != second["task_id"]


async def test_text_too_long_for_a_card_goes_first(bot: WeComRunner, fake: FakeWeComAPI) -> None:
    text = "标题\n" + "很长的条目内容。" * 30
    await enqueue(bot, OutboxKind.SEND, text=text, buttons=keyboard("1分", "0分"))
    await bot.settle()
    lead, card = fake.sent_to("u1")
    assert (lead.msgtype, lead.content) == ("text", text)
    assert card.body["template_card"]["main_title"] == {"title": "标题"}
    assert "sub_title_text" not in card.body["template_card"]


async def test_edits_replace_cards_in_place(bot: WeComRunner, fake: FakeWeComAPI) -> None:
    await enqueue(
        bot, OutboxKind.SEND, text="第 1 项\n内容", buttons=keyboard("1分", "0分"), ref="i1"
    )
    await bot.settle()
    # The same content again changes nothing and keeps the card's response code.
    await enqueue(
        bot, OutboxKind.EDIT, text="第 1 项\n内容", buttons=keyboard("1分", "0分"), edit_ref="i1"
    )
    await bot.settle()
    assert fake.card_updates == []
    await enqueue(bot, OutboxKind.EDIT, text="✓ 1. 1分 符合", edit_ref="i1")
    await bot.settle()
    assert len(fake.sent_to("u1")) == 1
    (update,) = fake.card_updates
    assert update.body["template_card"]["main_title"] == {"title": "✓ 1. 1分 符合"}
    assert update.body["template_card"]["replace_text"] == "已处理"
    assert "button_list" not in update.body["template_card"]
    assert update.body["userids"] == ["u1"]


async def test_edit_without_a_usable_code_is_sent_as_a_new_message(
    bot: WeComRunner, fake: FakeWeComAPI
) -> None:
    await enqueue(bot, OutboxKind.SEND, text="任务设置", buttons=keyboard("张三", "李四"), ref="t1")
    await bot.settle()
    first = fake.sent_to("u1")[0]
    await enqueue(
        bot,
        OutboxKind.EDIT,
        text="任务设置\n责任人：张三",
        buttons=keyboard("✓张三", "李四"),
        edit_ref="t1",
    )
    await bot.settle()
    assert len(fake.card_updates) == 1  # the send-time code was used
    await enqueue(
        bot,
        OutboxKind.EDIT,
        text="任务设置\n责任人：李四",
        buttons=keyboard("张三", "✓李四"),
        edit_ref="t1",
    )
    await bot.settle()
    assert len(fake.card_updates) == 1
    replacement = fake.sent_to("u1")[-1]
    assert replacement.task_id != first.task_id
    assert "责任人：李四" in replacement.body["template_card"]["sub_title_text"]
    # A press on the new card gives a code for it: the next edit of "t1" updates it in place.
    bot.channel.cards.add_code(
        replacement.task_id or "", fake.issue_response_code(replacement.task_id or "")
    )
    await enqueue(bot, OutboxKind.EDIT, text="已创建整改任务 #1", edit_ref="t1")
    await bot.settle()
    assert [u.task_id for u in fake.card_updates] == [first.task_id, replacement.task_id]
    assert len(fake.sent_to("u1")) == 2


async def test_edit_of_a_text_message_is_sent_as_new(bot: WeComRunner, fake: FakeWeComAPI) -> None:
    await enqueue(bot, OutboxKind.SEND, text="请稍候", ref="x")
    await enqueue(bot, OutboxKind.EDIT, text="完成", edit_ref="x")
    await enqueue(bot, OutboxKind.EDIT, text="没有这条", edit_ref="never-sent")
    await bot.settle()
    assert [m.content for m in fake.sent_to("u1")] == ["请稍候", "完成", "没有这条"]


async def test_toasts_only_alerts_are_sent(bot: WeComRunner, fake: FakeWeComAPI) -> None:
    await enqueue(bot, OutboxKind.ANSWER_CALLBACK, callback_id="c1")
    await enqueue(bot, OutboxKind.ANSWER_CALLBACK, callback_id="c2", text="已选择")
    await enqueue(bot, OutboxKind.ANSWER_CALLBACK, callback_id="c3", text="按钮已失效", alert=True)
    await bot.settle()
    assert [m.content for m in fake.sent_to("u1")] == ["按钮已失效"]
    assert await bot.dead_or_pending() == 0


async def test_photos_and_documents_go_through_media_upload(
    bot: WeComRunner, fake: FakeWeComAPI
) -> None:
    photo = (await bot.files.put(PNG)).sha256
    report = (await bot.files.put(b"%PDF-1.7 report")).sha256
    await enqueue(bot, OutboxKind.SEND_PHOTO, photos=(photo, photo), text="整改前照片")
    await enqueue(
        bot, OutboxKind.SEND_DOCUMENT, document=report, document_name="检查报告_阳光花园.pdf"
    )
    await bot.settle()
    sent = fake.sent_to("u1")
    assert [m.msgtype for m in sent] == ["image", "image", "text", "file"]
    assert sent[2].content == "整改前照片"
    image = fake.media[sent[0].body["image"]["media_id"]]
    assert (image.data, image.content_type) == (PNG, "image/png")
    assert fake.calls.count("/cgi-bin/media/upload") == 2  # the same photo is uploaded once
    document = fake.media[sent[3].body["file"]["media_id"]]
    assert (document.filename, document.data) == ("检查报告_阳光花园.pdf", b"%PDF-1.7 report")


async def test_missing_file_gives_up_and_later_messages_still_go(
    bot: WeComRunner, fake: FakeWeComAPI
) -> None:
    dead = await enqueue(bot, OutboxKind.SEND_PHOTO, photos=("0" * 64,))
    await enqueue(bot, OutboxKind.SEND, text="之后的消息")
    await bot.settle()
    assert await status_of(bot, dead) is OutboxStatus.DEAD
    assert [m.content for m in fake.sent_to("u1")] == ["之后的消息"]


async def test_rate_limit_backs_off_and_delivers(
    bot: WeComRunner, fake: FakeWeComAPI, clock: FakeClock
) -> None:
    await bot.channel.api.access_token()
    fake.fail_next(45009)
    started = clock()
    row = await enqueue(bot, OutboxKind.SEND, text="稍后送达")
    await bot.settle()
    (sent,) = fake.sent_to("u1")
    assert sent.content == "稍后送达"
    assert sent.at - started >= 60
    assert await status_of(bot, row) is OutboxStatus.SENT


async def test_a_rejected_message_is_given_up(bot: WeComRunner, fake: FakeWeComAPI) -> None:
    await bot.channel.api.access_token()
    fake.fail_next(40058)
    row = await enqueue(bot, OutboxKind.SEND, text="参数错误")
    await bot.settle()
    assert await status_of(bot, row) is OutboxStatus.DEAD
    assert fake.sent_to("u1") == []


async def test_retry_after_a_partial_send_does_not_repeat_what_went_out(
    bot: WeComRunner, fake: FakeWeComAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    send = bot.channel.api.send
    calls = 0

    async def flaky(userid: str, message: dict[str, Any]) -> SendResult:
        nonlocal calls
        calls += 1
        if calls == 2:  # the second card: WeCom is busy
            raise WeComAPIError("message/send", -1, "system busy", retryable=True)
        return await send(userid, message)

    monkeypatch.setattr(bot.channel.api, "send", flaky)
    rows = tuple((Button(f"选项{n}", f"J:1:1:{n}"),) for n in range(9))
    row = await enqueue(bot, OutboxKind.SEND, text="请选择", buttons=rows)
    await bot.settle()
    titles = [m.body["template_card"]["main_title"]["title"] for m in fake.sent_to("u1")]
    assert titles == ["请选择", "更多操作"]
    assert calls == 3
    assert await status_of(bot, row) is OutboxStatus.SENT
