"""The fake Telegram Bot API, driven by a real python-telegram-bot 22 Application."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from telegram import (
    Bot,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputMediaPhoto,
    ReplyParameters,
    Update,
)
from telegram.constants import ParseMode
from telegram.error import BadRequest, Conflict, Forbidden, InvalidToken, RetryAfter
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from tests.fakes.telegram_api import FakeTelegramAPI, running
from tests.fakes.telegram_limits import NOT_MODIFIED, QUERY_TOO_OLD, HtmlError, parse_html
from tests.fakes.telegram_media import grey_jpeg, jpeg_size

pytestmark = pytest.mark.timeout(30)

ALICE = 1001
KEYBOARD = InlineKeyboardMarkup(
    [
        [
            InlineKeyboardButton("合格", callback_data="ok"),
            InlineKeyboardButton("不合格", callback_data="fail"),
        ]
    ]
)


def ptb_text(description: str) -> str:
    """What ``str(BadRequest)`` shows for a Telegram description (PTB strips and capitalizes)."""
    return description.removeprefix("Bad Request: ").capitalize()


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegramAPI]:
    async with FakeTelegramAPI() as api:
        yield api


@pytest.fixture
async def bot(fake: FakeTelegramAPI) -> AsyncIterator[Bot]:
    """The real PTB Bot of an initialized (not polling) Application."""
    fake.user(ALICE, "Alice", username="alice")
    async with fake.builder().build() as app:
        yield app.bot


def inspection_app(fake: FakeTelegramAPI, seen: list[int]) -> Application:  # type: ignore[type-arg]
    """Echo text, offer a keyboard on /start, answer + edit on a press; logs update ids."""
    app = fake.builder().build()

    async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        seen.append(update.update_id)
        assert update.message is not None
        assert update.message.text is not None
        await update.message.reply_text(update.message.text)

    async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        seen.append(update.update_id)
        assert update.message is not None
        await update.message.reply_text("请选择检查结果", reply_markup=KEYBOARD)

    async def pressed(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        seen.append(update.update_id)
        query = update.callback_query
        assert query is not None
        await query.answer(f"已选择 {query.data}")
        await query.edit_message_text(f"结果: <b>{query.data}</b>", parse_mode=ParseMode.HTML)

    app.add_handler(CommandHandler("start", start))
    app.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND, echo))
    app.add_handler(CallbackQueryHandler(pressed))
    return app


# ------------------------------------------------------------------ polling and updates


async def test_bootstrap_uses_get_me_and_delete_webhook(fake: FakeTelegramAPI) -> None:
    app = inspection_app(fake, [])
    async with running(app):
        assert app.bot.username == "pinjian_test_bot"
        await fake.wait_for(lambda: fake.calls("getUpdates"))
    assert fake.calls("getMe", ok=True)
    assert fake.calls("deleteWebhook", ok=True)
    # Stopping confirms what was fetched with one last non-blocking getUpdates.
    assert fake.calls("getUpdates")[-1].params.get("timeout") == 0


async def test_echo_confirms_offsets_and_redeliver_repeats_an_update(
    fake: FakeTelegramAPI,
) -> None:
    seen: list[int] = []
    alice = fake.user(ALICE, "Alice")
    async with running(inspection_app(fake, seen)):
        ids = [await alice.send_text(f"巡检 {i}") for i in range(3)]
        await fake.wait_for(lambda: len(fake.messages(ALICE)) == 3)
        assert fake.texts(ALICE) == ["巡检 0", "巡检 1", "巡检 2"]
        assert all(msg.sender["username"] == "pinjian_test_bot" for msg in fake.messages(ALICE))
        assert [m.message_id for m in fake.messages(ALICE, include_user=True)] == list(range(1, 7))

        await fake.wait_for(lambda: not fake.pending_update_ids, message="offsets confirmed")
        assert Counter(seen) == Counter(ids)
        assert all(fake.delivery_count(update_id) == 1 for update_id in ids)

        fake.redeliver(ids[1])
        await fake.wait_for(lambda: seen.count(ids[1]) == 2)
        later = await alice.send_text("之后")
        await fake.wait_for(lambda: later in seen)
        await fake.wait_for(lambda: not fake.pending_update_ids)
        assert Counter(seen) == Counter([*ids, ids[1], later])
        assert fake.delivery_count(ids[1]) == 2
        assert fake.texts(ALICE)[-2:] == ["巡检 1", "之后"]


async def test_press_answers_and_edits_the_message(fake: FakeTelegramAPI, bot: Bot) -> None:
    alice = fake.user(ALICE, "Alice")
    async with running(inspection_app(fake, [])):
        await alice.send_command("/start")
        menu = await fake.wait_for(lambda: fake.last_message(ALICE))
        assert fake.buttons(menu) == [("合格", "ok"), ("不合格", "fail")]
        with pytest.raises(ValueError, match="no button"):
            await alice.press(menu, "nope")

        await alice.press(menu, "ok")
        await fake.wait_for(lambda: menu.text == "结果: ok")
    assert menu.entities == [{"type": "bold", "offset": 4, "length": 2}]
    assert menu.buttons() == []  # editing text without reply_markup drops the keyboard
    assert [version.text for version in menu.history] == ["请选择检查结果"]
    assert menu.edit_date is not None
    assert menu.source == "结果: <b>ok</b>"
    [answer] = fake.answered_callbacks
    assert (answer["text"], answer["data"], answer["message_id"]) == (
        "已选择 ok",
        "ok",
        menu.message_id,
    )

    with pytest.raises(BadRequest) as err:
        await bot.answer_callback_query(answer["callback_query_id"])
    assert str(err.value) == ptb_text(QUERY_TOO_OLD)


async def test_command_entity_and_bot_mention(fake: FakeTelegramAPI) -> None:
    seen: list[int] = []
    alice = fake.user(ALICE, "Alice")
    async with running(inspection_app(fake, seen)):
        first = await alice.send_command("start", "A栋")
        second = await alice.send_command("start", mention_bot=True)
        third = await alice.send_text("/start@pinjian_test_bot")
        await fake.wait_for(lambda: len(fake.messages(ALICE)) == 3)
    assert seen == [first, second, third]
    update = fake.update(first)["message"]
    assert update["text"] == "/start A栋"
    assert update["entities"] == [{"type": "bot_command", "offset": 0, "length": 6}]


async def test_photo_download_returns_the_original_bytes(fake: FakeTelegramAPI) -> None:
    original = grey_jpeg(640, 480) + b"trailer-that-only-the-original-has"
    got: dict[str, Any] = {}
    app = fake.builder().build()

    async def on_photo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.message is not None
        photo = update.message.photo
        got["largest"] = bytes(await (await photo[-1].get_file()).download_as_bytearray())
        got["smallest"] = bytes(await (await photo[0].get_file()).download_as_bytearray())
        got["sizes"] = [(p.width, p.height, p.file_size) for p in photo]
        got["caption"] = update.message.caption
        await update.message.reply_text("照片已收到")

    app.add_handler(MessageHandler(filters.PHOTO, on_photo))
    alice = fake.user(ALICE, "Alice")
    async with running(app):
        await alice.send_photo(original, caption="大堂地面")
        await fake.wait_for(lambda: fake.texts(ALICE) == ["照片已收到"])
    assert got["largest"] == original
    assert got["caption"] == "大堂地面"
    assert [(w, h) for w, h, _ in got["sizes"]] == [(90, 68), (320, 240), (640, 480)]
    assert got["sizes"][-1][2] == len(original)
    assert jpeg_size(got["smallest"]) == (90, 68)
    assert len(got["smallest"]) == got["sizes"][0][2]
    assert len(fake.downloads) == 2


async def test_document_sticker_and_too_big_file(fake: FakeTelegramAPI) -> None:
    got: dict[str, Any] = {}
    app = fake.builder().build()

    async def on_document(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.message is not None
        assert update.message.document is not None
        document = update.message.document
        name = document.file_name or ""
        try:
            file = await document.get_file()
            got[name] = bytes(await file.download_as_bytearray())
        except BadRequest as exc:
            got[name] = exc

    async def on_sticker(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.message is not None
        assert update.message.sticker is not None
        got["sticker"] = update.message.sticker.emoji

    app.add_handler(MessageHandler(filters.Document.ALL, on_document))
    app.add_handler(MessageHandler(filters.Sticker.ALL, on_sticker))
    alice = fake.user(ALICE, "Alice")
    async with running(app):
        await alice.send_document(b"%PDF-1.4 report", "整改报告.pdf", "application/pdf")
        await alice.send_document(b"x", "video.mp4", file_size=25 * 1024 * 1024)
        await alice.send_sticker("👍")
        await fake.wait_for(lambda: len(got) == 3)
    assert got["整改报告.pdf"] == b"%PDF-1.4 report"
    assert isinstance(got["video.mp4"], BadRequest)
    assert str(got["video.mp4"]) == "File is too big"
    assert got["sticker"] == "👍"


# ------------------------------------------------------------------ what the bot sends


async def test_bot_uploads_photos_documents_and_albums(fake: FakeTelegramAPI, bot: Bot) -> None:
    photo_bytes = grey_jpeg(800, 600)
    sent = await bot.send_photo(
        ALICE, photo_bytes, caption="<b>整改前</b> 照片", parse_mode=ParseMode.HTML
    )
    assert sent.caption == "整改前 照片"
    assert sent.photo[-1].width == 800
    stored = fake.last_message(ALICE)
    assert stored is not None
    assert stored.kind == "photo"
    assert stored.parse_mode == "HTML"
    downloaded = await (await bot.get_file(sent.photo[-1].file_id)).download_as_bytearray()
    assert bytes(downloaded) == photo_bytes

    again = await bot.send_photo(ALICE, sent.photo[-1].file_id)  # re-send by file_id
    assert [p.file_id for p in again.photo] == [p.file_id for p in sent.photo]

    doc = await bot.send_document(ALICE, b"a,b\n1,2\n", filename="巡检.csv", caption="导出")
    assert doc.document is not None
    assert doc.document.file_name == "巡检.csv"
    assert fake.calls("sendDocument")[-1].files["document"].data == b"a,b\n1,2\n"

    album = await bot.send_media_group(
        ALICE,
        [InputMediaPhoto(grey_jpeg(64, 64), caption="一"), InputMediaPhoto(grey_jpeg(32, 32))],
    )
    assert len({m.media_group_id for m in album}) == 1
    assert album[0].caption == "一"
    assert [m.message_id for m in album] == [4, 5]
    assert await bot.send_chat_action(ALICE, "upload_photo")


async def test_edit_delete_and_not_modified(fake: FakeTelegramAPI, bot: Bot) -> None:
    msg = await bot.send_message(ALICE, "待检查", reply_markup=KEYBOARD)
    with pytest.raises(BadRequest) as err:
        await bot.edit_message_text("待检查", ALICE, msg.message_id, reply_markup=KEYBOARD)
    assert str(err.value) == ptb_text(NOT_MODIFIED)
    assert fake.calls("editMessageText")[-1].error == NOT_MODIFIED

    await bot.edit_message_reply_markup(ALICE, msg.message_id, reply_markup=None)
    with pytest.raises(BadRequest, match="Message is not modified"):
        await bot.edit_message_reply_markup(ALICE, msg.message_id, reply_markup=None)
    await bot.edit_message_text("已检查", ALICE, msg.message_id)
    stored = fake.message(ALICE, msg.message_id)
    assert stored.text == "已检查"
    assert len(stored.history) == 2
    assert stored.history[0].reply_markup == KEYBOARD.to_dict()

    photo = await bot.send_photo(ALICE, grey_jpeg(16, 16), caption="旧")
    await bot.edit_message_caption(ALICE, photo.message_id, caption="新")
    assert fake.message(ALICE, photo.message_id).caption == "新"

    assert await bot.delete_message(ALICE, msg.message_id)
    assert fake.texts(ALICE) == ["新"]
    assert fake.messages(ALICE, include_deleted=True)[0].deleted
    with pytest.raises(BadRequest, match="Message to edit not found"):
        await bot.edit_message_text("x", ALICE, msg.message_id)
    with pytest.raises(BadRequest, match="Message to delete not found"):
        await bot.delete_message(ALICE, msg.message_id)


def _buttons(count: int, data: str = "d") -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(str(i), callback_data=data)] for i in range(count)]
    )


PARSE = "Bad Request: can't parse entities: "
HTML = {"parse_mode": "HTML"}
BAD_SENDS: list[tuple[str, dict[str, Any], str]] = [
    ("too long", {"text": "检" * 4097}, "Bad Request: message is too long"),
    ("empty", {"text": "  \n "}, "Bad Request: message text is empty"),
    ("empty after parsing", {"text": "<b></b>", **HTML}, "Bad Request: message text is empty"),
    (
        "callback_data 65 bytes",
        {"text": "x", "reply_markup": _buttons(1, "a" * 65)},
        "Bad Request: BUTTON_DATA_INVALID",
    ),
    (
        "callback_data 66 UTF-8 bytes",
        {"text": "x", "reply_markup": _buttons(1, "检" * 22)},
        "Bad Request: BUTTON_DATA_INVALID",
    ),
    (
        "101 buttons",
        {"text": "x", "reply_markup": _buttons(101)},
        "Bad Request: reply markup is too long",
    ),
    (
        "unclosed tag",
        {"text": "<b>整改", **HTML},
        PARSE + 'Can\'t find end tag corresponding to start tag "b"',
    ),
    (
        "unknown tag",
        {"text": "<foo>x</foo>", **HTML},
        PARSE + 'Unsupported start tag "foo" at byte offset 0',
    ),
    ("bare <", {"text": "面积 < 5", **HTML}, PARSE + 'Unsupported start tag "" at byte offset 7'),
    (
        "crossed tags",
        {"text": "<b><i>x</b></i>", **HTML},
        PARSE + 'Unmatched end tag at byte offset 7, expected "</i>", found "</b>"',
    ),
]


@pytest.mark.parametrize(
    ("params", "description"), [case[1:] for case in BAD_SENDS], ids=[case[0] for case in BAD_SENDS]
)
async def test_limits_raise_bad_request_in_ptb(
    fake: FakeTelegramAPI, bot: Bot, params: dict[str, Any], description: str
) -> None:
    with pytest.raises(BadRequest) as err:
        await bot.send_message(ALICE, **params)
    assert str(err.value) == ptb_text(description)
    assert fake.calls("sendMessage")[-1].error == description
    assert fake.messages(ALICE) == []


async def test_limits_that_pass_and_other_errors(fake: FakeTelegramAPI, bot: Bot) -> None:
    assert (await bot.send_message(ALICE, "检" * 4096)).text == "检" * 4096
    await bot.send_message(ALICE, "x", reply_markup=_buttons(100, "b" * 64))
    await bot.send_message(
        ALICE, "A &amp; B &lt;3 <a href='https://t.me/x'>链接</a>", parse_mode="HTML"
    )
    assert fake.texts(ALICE)[-1] == "A & B <3 链接"
    with pytest.raises(BadRequest, match="Can't parse entities: character '&'"):
        await bot.send_message(ALICE, "A & B", parse_mode="HTML")
    with pytest.raises(BadRequest, match="Message caption is too long"):
        await bot.send_photo(ALICE, grey_jpeg(8, 8), caption="长" * 1025)
    with pytest.raises(BadRequest, match="Chat not found"):
        await bot.send_message(999, "hi")
    fake.user(ALICE, "Alice").block()
    with pytest.raises(Forbidden, match="bot was blocked by the user"):
        await bot.send_message(ALICE, "hi")


async def test_bad_request_surfaces_inside_a_handler(fake: FakeTelegramAPI) -> None:
    errors: list[str] = []
    app = fake.builder().build()

    async def report(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.message is not None
        try:
            await update.message.reply_text("<b>未闭合", parse_mode=ParseMode.HTML)
        except BadRequest as exc:
            errors.append(str(exc))
            await update.message.reply_text("格式错误，已改为纯文本: <b>未闭合")

    app.add_handler(CommandHandler("report", report))
    alice = fake.user(ALICE, "Alice")
    async with running(app):
        await alice.send_command("report")
        await fake.wait_for(lambda: fake.texts(ALICE))
    assert errors == ["Can't parse entities: can't find end tag corresponding to start tag \"b\""]
    assert fake.texts(ALICE) == ["格式错误，已改为纯文本: <b>未闭合"]


async def test_flood_limits_raise_retry_after(
    fake: FakeTelegramAPI, bot: Bot, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PTB_TIMEDELTA", "true")  # RetryAfter.retry_after as timedelta, no warning
    fake.user(1002, "Bob")
    await bot.send_message(ALICE, "1")
    await bot.send_message(ALICE, "2")  # limits are off by default
    fake.flood_limits(per_chat_per_sec=1, global_per_sec=30)
    await bot.send_message(ALICE, "3")
    with pytest.raises(RetryAfter) as err:
        await bot.send_message(ALICE, "4")
    assert err.value.retry_after.total_seconds() == 1  # type: ignore[union-attr]
    assert fake.calls("sendMessage")[-1].error == "Too Many Requests: retry after 1"
    assert fake.flood_hits == 1
    await bot.send_message(1002, "other chat is fine")
    fake.no_flood_limits()
    await bot.send_message(ALICE, "5")
    assert fake.texts(ALICE) == ["1", "2", "3", "5"]


async def test_groups_replies_and_allowed_updates(fake: FakeTelegramAPI, bot: Bot) -> None:
    group = fake.group(-100123, "A栋物业群", username="a_building")
    alice = fake.user(ALICE, "Alice")
    asked = await alice.send_text("3楼走廊灯不亮", chat_id=group.id)
    question = fake.last_message(group.id, include_user=True)
    assert question is not None
    assert question.chat["title"] == "A栋物业群"
    reply = await bot.send_message(
        "@a_building", "已派单", reply_parameters=ReplyParameters(question.message_id)
    )
    assert reply.chat.id == group.id
    assert reply.reply_to_message is not None
    assert reply.reply_to_message.text == "3楼走廊灯不亮"
    with pytest.raises(BadRequest, match="Message to be replied not found"):
        await bot.send_message(group.id, "x", reply_parameters=ReplyParameters(99))

    # Once the bot asks only for messages, a button press is not even queued.
    assert [u.update_id for u in await bot.get_updates(allowed_updates=["message"])] == [asked]
    await bot.send_message(ALICE, "请选择", reply_markup=KEYBOARD)
    menu = fake.last_message(ALICE)
    assert menu is not None
    await alice.press(menu, "ok")
    assert fake.dropped_updates[-1]["callback_query"]["data"] == "ok"
    assert await bot.get_updates(offset=asked + 1) == ()


# ------------------------------------------------------------------ raw protocol


async def test_bad_token_and_unknown_method(fake: FakeTelegramAPI) -> None:
    app = (
        Application.builder()
        .token("123456:WRONG")
        .base_url(fake.base_url)
        .base_file_url(fake.base_file_url)
        .build()
    )
    with pytest.raises(InvalidToken, match="was rejected by the server"):
        await app.initialize()
    await app.bot.shutdown()  # initialize() opened the HTTP clients before getMe failed
    assert fake.calls("getMe")[-1].status == 401
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{fake.base_url}{fake.token}/frobnicate", json={}) as resp:
            assert resp.status == 404
            assert await resp.json() == {"ok": False, "error_code": 404, "description": "Not Found"}
        async with http.get(f"{fake.base_url}123456:WRONG/getMe") as resp:
            assert resp.status == 401
            assert (await resp.json())["description"] == "Unauthorized"


async def test_get_updates_offsets_limit_and_long_poll(fake: FakeTelegramAPI) -> None:
    alice = fake.user(ALICE, "Alice")
    url = f"{fake.base_url}{fake.token}/getUpdates"
    async with aiohttp.ClientSession() as http:

        async def get_updates(**params: Any) -> list[dict[str, Any]]:
            async with http.post(url, json=params) as resp:
                body = await resp.json()
                assert body["ok"], body
                return body["result"]  # type: ignore[no-any-return]

        ids = [await alice.send_text(str(i)) for i in range(4)]
        assert [u["update_id"] for u in await get_updates()] == ids
        assert [u["update_id"] for u in await get_updates()] == ids  # not confirmed yet
        assert [u["update_id"] for u in await get_updates(offset=ids[1], limit=2)] == ids[1:3]
        assert fake.pending_update_ids == ids[1:]  # ids[0] confirmed, dropped
        assert [u["update_id"] for u in await get_updates(offset=-1)] == ids[3:]
        assert fake.pending_update_ids == ids[3:]  # negative offset forgets the rest
        assert await get_updates(offset=ids[3] + 1) == []

        started = time.monotonic()
        assert await get_updates(offset=ids[3] + 1, timeout=0.3) == []
        assert time.monotonic() - started >= 0.25

        async def later() -> int:
            await asyncio.sleep(0.1)
            return await alice.send_text("late")

        started = time.monotonic()
        got, late_id = await asyncio.gather(get_updates(offset=ids[3] + 1, timeout=5), later())
        assert [u["update_id"] for u in got] == [late_id]
        assert time.monotonic() - started < 2

        # A newer getUpdates ends an older waiting one with 409 Conflict.
        async def raw_poll() -> tuple[int, dict[str, Any]]:
            async with http.post(url, json={"offset": late_id + 1, "timeout": 5}) as resp:
                return resp.status, await resp.json()

        older = asyncio.ensure_future(raw_poll())
        await fake.wait_for(lambda: fake.calls("getUpdates")[-1].status is None)
        assert await get_updates(offset=late_id + 1, timeout=0.2) == []
        status, body = await older
        assert status == 409
        assert body["description"].startswith("Conflict: terminated by other")
        assert fake.conflicts == 1


async def test_webhook_commands_and_form_encoding(fake: FakeTelegramAPI, bot: Bot) -> None:
    assert await bot.set_webhook("https://example.invalid/hook")
    assert (await bot.get_webhook_info()).url == "https://example.invalid/hook"
    with pytest.raises(Conflict, match="webhook is active"):
        await bot.get_updates()
    with pytest.raises(BadRequest, match="an https url must be provided"):
        await bot.set_webhook("http://example.invalid/hook")
    assert await bot.delete_webhook()
    assert await bot.get_updates() == ()

    assert await bot.set_my_commands([("start", "开始巡检"), ("report", "查看报告")])
    assert fake.commands == [
        {"command": "start", "description": "开始巡检"},
        {"command": "report", "description": "查看报告"},
    ]
    assert [c.command for c in await bot.get_my_commands()] == ["start", "report"]
    with pytest.raises(BadRequest, match="Bot_command_invalid"):
        await bot.set_my_commands([("Bad-Command", "x")])

    async with aiohttp.ClientSession() as http:
        form = {"chat_id": str(ALICE), "text": "123", "reply_markup": KEYBOARD.to_json()}
        async with http.post(f"{fake.base_url}{fake.token}/sendMessage", data=form) as resp:
            result = (await resp.json())["result"]
    assert result["text"] == "123"
    assert result["chat"]["id"] == ALICE
    assert fake.buttons(result) == [("合格", "ok"), ("不合格", "fail")]


async def test_wait_for_times_out_with_a_dump(fake: FakeTelegramAPI, bot: Bot) -> None:
    await bot.send_message(ALICE, "你好", reply_markup=KEYBOARD)
    with pytest.raises(AssertionError) as err:
        await fake.wait_for(lambda: fake.texts(ALICE) == ["再见"], timeout=0.1, message="goodbye")
    text = str(err.value)
    assert "goodbye" in text
    assert "#1 bot  text: '你好'" in text
    assert "sendMessage" in text


# ------------------------------------------------------------------ HTML parser


def _e(kind: str, offset: int, length: int, **extra: str) -> dict[str, Any]:
    return {"type": kind, "offset": offset, "length": length, **extra}


@pytest.mark.parametrize(
    ("markup", "text", "entities"),
    [
        ("🏟 🏟<i>🏟 &lt🏟</i>", "🏟 🏟🏟 <🏟", [_e("italic", 5, 6)]),
        ("<b>粗<i>斜</i></>", "粗斜", [_e("bold", 0, 2), _e("italic", 1, 1)]),
        ('<span class="tg-spoiler">x</span>', "x", [_e("spoiler", 0, 1)]),
        ('<pre><code class="language-py">p</code></pre>', "p", [_e("pre", 0, 1, language="py")]),
        (
            "<a href='https://t.me/?a&amp;b'>t</a>",
            "t",
            [_e("text_link", 0, 1, url="https://t.me/?a&b")],
        ),
        ("&#x1F600; &quot;q&quot; a > b", '😀 "q" a > b', []),
    ],
)
def test_parse_html_matches_tdlib(markup: str, text: str, entities: list[dict[str, Any]]) -> None:
    assert parse_html(markup) == (text, entities)


@pytest.mark.parametrize(
    ("markup", "error"),
    [
        ("🏟 🏟&lt;<abacaba", "Unclosed start tag at byte offset 13"),
        ("🏟 🏟&lt;</", "Unexpected end tag at byte offset 13"),
        ("🏟 🏟&lt;<i>a</i   ", "Unclosed end tag at byte offset 17"),
        ("<span>x</span>", 'Tag "span" must have class "tg-spoiler" at byte offset 0'),
    ],
)
def test_parse_html_errors_match_tdlib(markup: str, error: str) -> None:
    with pytest.raises(HtmlError) as err:
        parse_html(markup)
    assert str(err.value) == error


def test_bare_ampersand_is_kept_when_not_strict() -> None:
    assert parse_html("A & B &ge;", strict_ampersand=False) == ("A & B &ge;", [])


async def test_a_group_mentions_by_user_link_and_a_removed_bot_is_forbidden(
    fake: FakeTelegramAPI, bot: Bot
) -> None:
    fake.group(-1009, "项目群")
    sent = await bot.send_message(
        -1009, '请 <a href="tg://user?id=42">张三</a> 处理', parse_mode=ParseMode.HTML
    )
    (mention,) = sent.entities
    assert (mention.type, mention.offset, mention.length) == ("text_mention", 2, 2)
    assert mention.user is not None and mention.user.id == 42
    fake.remove_bot(-1009)
    with pytest.raises(Forbidden, match="bot was kicked from the supergroup chat"):
        await bot.send_message(-1009, "还在吗")
