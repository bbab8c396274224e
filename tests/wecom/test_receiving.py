"""Callbacks turned into events: redeliveries, every message kind, strangers, numbered options."""

from __future__ import annotations

from datetime import datetime

from bot.handlers.wecom.xmlmsg import WeComIncoming
from tests.core.test_capture_time import photo
from tests.fakes.wecom_api import FakeWeComAPI
from tests.wecom.callbacks import build_event, build_image, build_text
from tests.wecom.runner import AGENT_ID, CORP_ID, Member, WeComRunner

JPEG = b"\xff\xd8\xff\xe0" + b"jpeg-bytes" * 50


async def inspecting(bot: WeComRunner) -> Member:
    await bot.seed()
    inspector = bot.member("wangjiancha")
    await inspector.text("/inspect")
    await inspector.tap("阳光花园")
    return inspector


async def test_redelivered_message_and_card_press_change_nothing(
    bot: WeComRunner, fake: FakeWeComAPI
) -> None:
    inspector = await inspecting(bot)
    await inspector.tap("1分")
    sent = len(fake.sent_to(inspector.userid))
    updates = len(fake.card_updates)
    assert await inspector.redeliver() == 200
    assert len(fake.sent_to(inspector.userid)) == sent
    assert len(fake.card_updates) == updates
    async with bot.db.read() as tx:
        assert len(await tx.answers.history(1, 1)) == 1

    await inspector.tap("📝 备注")
    await inspector.text("记录齐全")
    sent = len(fake.sent_to(inspector.userid))
    await inspector.redeliver()
    assert len(fake.sent_to(inspector.userid)) == sent
    async with bot.db.read() as tx:
        assert [n.text for n in await tx.notes.for_item(1, 2)] == ["记录齐全"]


async def test_redelivered_photo_is_downloaded_once(bot: WeComRunner, fake: FakeWeComAPI) -> None:
    inspector = await inspecting(bot)
    await inspector.image(JPEG)
    await inspector.redeliver()
    assert fake.calls.count("/cgi-bin/media/get") == 1
    assert sum("照片已附在第 1 项" in t for t in inspector.texts()) == 1
    async with bot.db.read() as tx:
        assert len(await tx.evidence.for_item(1, 1)) == 1


async def test_a_button_pressed_again_after_an_update_counts(bot: WeComRunner) -> None:
    """An in-place update can bring back a button the member pressed before: pressing it
    again is a new press (same TaskId and EventKey, new CreateTime)."""
    inspector = await inspecting(bot)
    await inspector.tap("0.5分")
    setup = inspector.live_card("✅ 确认创建")
    zhang = next(k for t, k in setup.buttons if t.endswith("张三"))
    li = next(k for t, k in setup.buttons if t.endswith("李四"))
    await inspector.press(setup, li)
    assert "责任人：李四" in inspector.live_card("✅ 确认创建").text
    await inspector.press(inspector.live_card("✅ 确认创建"), zhang)
    assert "责任人：张三" in inspector.live_card("✅ 确认创建").text


async def test_image_files_are_evidence_and_other_files_are_not_downloaded(
    bot: WeComRunner, fake: FakeWeComAPI
) -> None:
    inspector = await inspecting(bot)
    await inspector.file(b"%PDF-1.4 ...", "合同.pdf", "application/pdf")
    assert "合同.pdf 不是图片" in inspector.texts()[-1]
    assert fake.calls.count("/cgi-bin/media/get") == 0
    media_id = await inspector.file(JPEG, "现场.jpg", "image/jpeg")
    shown = inspector.chat()
    saved = max(i for i, m in enumerate(shown) if "照片已附在第 1 项" in m.text)
    card = inspector.live_card("1分")
    assert "已附：1张照片" in card.text
    later = [m.card.task_id for m in shown[saved + 1 :] if m.card is not None]
    assert card.task_id in later  # the item shown again, below the photo
    above = [m.card for m in shown[:saved] if m.card is not None]
    assert not any(t.startswith("1分") for c in above for t, _ in c.buttons)
    async with bot.db.read() as tx:
        evidence = await tx.evidence.for_item(1, 1)
    assert [(e.channel_file_ref, e.mime) for e in evidence] == [(media_id, "image/jpeg")]


async def test_a_photo_file_keeps_its_exif_capture_time(bot: WeComRunner) -> None:
    inspector = await inspecting(bot)
    await inspector.file(photo("2026:11:03 09:41:07"), "IMG_0001.jpg", "image/jpeg")
    await inspector.image(JPEG)
    async with bot.db.read() as tx:
        kept = await tx.evidence.for_item(1, 1)
    assert [e.taken_at for e in kept] == [datetime(2026, 11, 3, 9, 41, 7), None]


async def test_too_large_photo_is_refused_without_storing(
    bot: WeComRunner, fake: FakeWeComAPI
) -> None:
    inspector = await inspecting(bot)
    await inspector.image(b"\xff\xd8\xff" + bytes(21 * 1_048_576))
    assert any("文件太大" in t for t in inspector.texts()[-3:])
    async with bot.db.read() as tx:
        assert await tx.evidence.for_item(1, 1) == []


async def test_unsupported_kinds_and_events(bot: WeComRunner, fake: FakeWeComAPI) -> None:
    inspector = await inspecting(bot)
    before = len(fake.sent_to(inspector.userid))
    voice = (
        f"<xml><ToUserName><![CDATA[{CORP_ID}]]></ToUserName>"
        "<FromUserName><![CDATA[wangjiancha]]></FromUserName>"
        f"<CreateTime>{bot.create_time()}</CreateTime><MsgType><![CDATA[voice]]></MsgType>"
        "<MediaId><![CDATA[m1]]></MediaId><Format><![CDATA[amr]]></Format>"
        f"<MsgId>99</MsgId><AgentID>{AGENT_ID}</AgentID></xml>"
    ).encode()
    await inspector.post(voice)
    await bot.settle()
    assert any("暂不支持这种消息" in t for t in inspector.texts()[before:])
    async with bot.db.read() as tx:
        assert await tx.answers.for_inspection(1) == []

    # Reports the member did not ask for (location, contact changes) get no answer.
    before = len(fake.sent_to(inspector.userid))
    await inspector.event("LOCATION")
    await bot.post(build_event("sys", "change_contact", to_user=CORP_ID, agent_id=AGENT_ID))
    await bot.settle()
    assert len(fake.sent_to(inspector.userid)) == before
    assert fake.sent_to("sys") == []

    await inspector.event("enter_agent")
    assert "**检查**　开始检查（/inspect）" in inspector.texts()[-1]
    await inspector.event("subscribe")
    assert "欢迎，王检查！" in inspector.texts()[-1]


async def test_strangers_are_refused_and_their_photos_not_downloaded(
    bot: WeComRunner, fake: FakeWeComAPI
) -> None:
    await bot.seed()
    stranger = bot.member("mallory")
    await stranger.text("/inspect")
    await stranger.image(JPEG)
    await stranger.event("subscribe")
    texts = stranger.texts()
    assert len(texts) == 3
    assert all("还没有开通账号" in t for t in texts)
    assert fake.calls.count("/cgi-bin/media/get") == 0
    assert not any(p.is_file() for p in (bot.data_dir / "evidence").rglob("*"))


async def test_numbered_options_when_two_cards_are_not_enough(bot: WeComRunner) -> None:
    inspector = await inspecting(bot)
    await inspector.tap("☰ 目录")
    await inspector.tap("三、客户服务")
    listing = inspector.chat()[-1]
    assert listing.card is None  # 20 items and a back button: numbered, not cards
    lines = listing.text.splitlines()
    number = next(line.split(".")[0] for line in lines if line.endswith(". ·40"))
    assert lines[-1] == "请回复编号选择。"
    await inspector.text(number)
    assert inspector.item_on_screen() == 40
    # Digits are plain text again once a card is the newest message with buttons.
    await inspector.tap("📝 备注")
    await inspector.text("7")
    async with bot.db.read() as tx:
        assert [n.text for n in await tx.notes.for_item(1, 40)] == ["7"]


async def test_photo_wecom_will_not_hand_over_is_answered(
    bot: WeComRunner, fake: FakeWeComAPI
) -> None:
    inspector = await inspecting(bot)
    await inspector.post(
        build_image(
            inspector.userid,
            "media-that-expired",
            to_user=CORP_ID,
            agent_id=AGENT_ID,
            msg_id=bot.next_msg_id(),
            create_time=bot.create_time(),
        )
    )
    await bot.settle()
    assert inspector.texts()[-1] == "没能收到这个文件，请稍后再发一次。"
    async with bot.db.read() as tx:
        assert await tx.evidence.for_item(1, 1) == []
    # WeCom's redelivery of the same callback is tried again (nothing was recorded).
    await inspector.redeliver()
    assert fake.calls.count("/cgi-bin/media/get") == 2


async def test_command_words_and_the_app_menu_are_commands(
    bot: WeComRunner, fake: FakeWeComAPI
) -> None:
    await bot.seed()
    manager = bot.member("zhaojingli")
    await manager.text("统计")
    assert "**项目排名**" in manager.texts()[-1]
    await manager.text("统计一下")
    words = "可以发送这些命令词：任务、统计、逾期、报告、通报、计划、设置、帮助"
    assert words in manager.texts()[-1]
    await manager.post(
        build_event(
            manager.userid,
            "click",
            event_key="overdue",
            to_user=CORP_ID,
            agent_id=AGENT_ID,
            create_time=bot.create_time(),
        )
    )
    await bot.settle()
    assert "没有逾期的整改任务" in manager.texts()[-1]

    inspector = bot.member("wangjiancha")
    await inspector.text("检查")
    await inspector.tap("阳光花园")
    await inspector.tap("📝 备注")
    await inspector.text("暂停")
    assert any("已为第 1 项保存备注" in text for text in inspector.texts()[-3:])
    await inspector.text("暂停")
    assert "已暂停：阳光花园" in inspector.texts()[-1]


async def test_text_with_ill_formed_characters_is_refused_and_kept_nowhere(
    bot: WeComRunner, fake: FakeWeComAPI
) -> None:
    """WeCom's XML cannot carry a lone surrogate or a NUL (the callback refuses such XML
    before anything happens); should a decrypted message still hold one, the member gets a
    polite line and the note being written is not saved."""
    inspector = await inspecting(bot)
    await inspector.tap("📝 备注")
    marked = build_text("wangjiancha", "MARK", to_user=CORP_ID, agent_id=AGENT_ID)
    for content in (b"hello &#xD800; world", b"<![CDATA[hello \xed\xa0\x80 world]]>", b"&#0;"):
        assert (await bot.post(marked.replace(b"<![CDATA[MARK]]>", content)))[0] == 400
    await bot.settle()
    message = WeComIncoming(
        msg_type="text",
        from_user="wangjiancha",
        to_user=CORP_ID,
        create_time=int(bot.clock()),
        msg_id="42",
        content="hello \ud800 world",
    )
    assert await bot.channel.translate(message) is None
    await bot.settle()
    assert "无法识别的字符" in inspector.texts()[-1]
    async with bot.db.read() as tx:
        assert await tx.notes.for_item(1, 1) == []
        assert not await tx.events.seen("wecom:m42")
    await inspector.text("记录齐全")
    async with bot.db.read() as tx:
        assert [n.text for n in await tx.notes.for_item(1, 1)] == ["记录齐全"]
