"""Reading Bot API updates (bot.handlers.telegram_update: python-telegram-bot's
``Update.de_json``, then the fields the adapter acts on) against what python-telegram-bot's own
objects say for the same JSON, and refusing what the bot cannot act on (PTB builds objects
without checking the JSON's types; the reader checks them)."""

from __future__ import annotations

from typing import Any

import pytest
from telegram import Bot, Update

from bot.handlers.telegram_update import TelegramFile, Unreadable, parse

USER = {"id": 5001, "is_bot": False, "first_name": "王", "last_name": "检查"}
PRIVATE = {"id": 5001, "type": "private", "first_name": "王"}
GROUP = {"id": -100123, "type": "supergroup", "title": "物业群"}
KEYBOARD = {"inline_keyboard": [[{"text": "1分 符合", "callback_data": "K:L:1:1:0"}]]}


def _press(chat: dict[str, Any] | None) -> dict[str, Any]:
    query: dict[str, Any] = {
        "id": "4000000000000000077",
        "from": USER,
        "chat_instance": "1",
        "data": "K:L:1:1:0",
    }
    if chat is not None:
        query["message"] = {
            "message_id": 9,
            "date": 1_764_000_000,
            "chat": chat,
            "text": "第1项",
            "reply_markup": KEYBOARD,
        }
    return {"update_id": 77, "callback_query": query}


def _message(chat: dict[str, Any], **fields: Any) -> dict[str, Any]:
    message = {"message_id": 10, "date": 1_764_000_000, "chat": chat, "from": USER, **fields}
    return {"update_id": 78, "message": message}


CASES = [
    _press(PRIVATE),
    _press(GROUP),
    _press(None),
    _message(PRIVATE, text="/start inv12x"),
    _message(GROUP, text="/inspect@pinjian_bot"),
    _message(PRIVATE, text="现场有积水"),
    _message(
        PRIVATE,
        caption="大堂",
        photo=[
            {"file_id": "small", "file_unique_id": "s", "width": 90, "height": 90, "file_size": 1},
            {"file_id": "large", "file_unique_id": "l", "width": 800, "height": 600},
        ],
    ),
    _message(
        PRIVATE,
        document={
            "file_id": "doc",
            "file_unique_id": "d",
            "mime_type": "image/png",
            "file_name": "整改后.png",
            "file_size": 2048,
        },
    ),
    _message(PRIVATE, location={"latitude": 31.2, "longitude": 121.5}),
    {"update_id": 79, "edited_message": _message(PRIVATE, text="改")["message"]},
]


@pytest.mark.parametrize("data", CASES)
def test_reads_what_python_telegram_bot_reads(data: dict[str, Any]) -> None:
    ours = parse(data)
    theirs = Update.de_json(data, Bot("123:abc"))
    assert ours.update_id == theirs.update_id
    assert ours.key == f"u{theirs.update_id}"
    query, message = theirs.callback_query, theirs.message
    if query is not None:
        chat = query.message.chat if query.message else None
        assert ours.chat_id == (chat.id if chat else query.from_user.id)
        assert ours.private == (chat is None or chat.type == "private")
        assert ours.user_id == query.from_user.id
        assert ours.display_name == query.from_user.full_name == "王 检查"
        assert (ours.callback_id, ours.callback_data) == (query.id, query.data)
        return
    if message is None:
        assert ours.user_id is None
        return
    assert message.from_user is not None
    assert (ours.chat_id, ours.user_id) == (message.chat.id, message.from_user.id)
    assert ours.private == (message.chat.type == "private")
    assert ours.display_name == message.from_user.full_name
    assert (ours.text, ours.caption, ours.callback_id) == (
        message.text,
        message.caption or "",
        None,
    )
    if message.photo:
        largest = message.photo[-1]
        assert ours.file == TelegramFile(
            largest.file_id, largest.file_size or 0, "image/jpeg", None, photo=True
        )
    elif message.document:
        document = message.document
        assert ours.file == TelegramFile(
            document.file_id,
            document.file_size or 0,
            document.mime_type or "",
            document.file_name,
            photo=False,
        )
    else:
        assert ours.file is None


@pytest.mark.parametrize(
    "data",
    [
        None,
        [],
        {},
        {"update_id": "77"},
        {"update_id": True, "message": _message(PRIVATE, text="x")["message"]},
        {"update_id": 1, "message": {"message_id": "x", "chat": "not an object"}},
        {"update_id": 1, "message": {"chat": {"id": 1}}},
        {"update_id": 1, "callback_query": {"id": "1", "data": "K"}},
        {"update_id": 1, "callback_query": {"id": 1, "from": USER}},
        _message(PRIVATE, text=["/start"]),
        _message(PRIVATE, photo=[{"file_size": 3}]),
        _message(PRIVATE, document={"file_id": "d", "file_size": "big"}),
    ],
)
def test_refuses_what_the_bot_cannot_act_on(data: Any) -> None:
    with pytest.raises(Unreadable):
        parse(data)


def test_a_press_is_read_without_building_the_pressed_message_s_content() -> None:
    """Only the pressed message's id, date and chat go to PTB: a keyboard it could not build
    is never built, and the update itself (stored raw in the inbox) is left as it came."""
    data = _press(PRIVATE)
    data["callback_query"]["message"]["reply_markup"] = {"inline_keyboard": "not rows"}
    data["callback_query"]["message"]["entities"] = [{"type": 5}]
    with pytest.raises((TypeError, ValueError, AttributeError)):
        Update.de_json(data, Bot("123:abc"))
    before = repr(data)
    assert parse(data) == parse(_press(PRIVATE))
    assert repr(data) == before
