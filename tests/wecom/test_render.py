"""Layout rules for WeCom: text conversion and splitting, packing buttons into cards, the
numbered fallback, and the channel message ids that remember cards."""

from __future__ import annotations

import html
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.handlers.wecom.cards import CardBook, SentCards
from bot.handlers.wecom.render import (
    CARD_TEXT_CHARS,
    ZERO_WIDTH_SPACE,
    card_face,
    markdown,
    pack,
    plain,
    rendering,
    split_utf8,
    text_messages,
)
from tests.wecom.runner import FakeClock

pytestmark = pytest.mark.database_neutral


def row(*keys: str) -> list[tuple[str, str]]:
    return [(key.upper(), key) for key in keys]


def test_html_subset_to_plain_and_markdown() -> None:
    text = "<b>总分 58 / 60</b> <i>注</i> <code>A&amp;B</code> &lt;无签字&gt;"
    assert plain(text) == "总分 58 / 60 注 A&B <无签字>"
    assert markdown(text) == "**总分 58 / 60** 注 A&B <无签字>"


PHISH = (
    '详见[整改通知（点击登录）](http://phish.example/login) <font color="warning">**紧急**</font>'
)


def test_typed_markdown_is_sent_as_text_exactly_as_typed() -> None:
    (message,) = text_messages(f"<b>整改任务 #1</b>\n备注：{html.escape(PHISH)}")
    assert message["msgtype"] == "text"
    content = message["text"]["content"]
    assert content.replace(ZERO_WIDTH_SPACE, "") == f"整改任务 #1\n备注：{PHISH}"
    assert not re.search(r"<[A-Za-z/]", content)  # no tag for WeCom to act on
    (link,) = text_messages(html.escape('点<a href="http://phish.example">这里</a>'))
    assert not re.search(r"<[A-Za-z/]", link["text"]["content"])
    # Text without anything markdown would read keeps its bold.
    (bold,) = text_messages("<b>整改任务 #1</b>\n备注：记录不全 #3 缺页")
    assert bold == {
        "msgtype": "markdown",
        "markdown": {"content": "**整改任务 #1**\n备注：记录不全 #3 缺页"},
    }


@given(st.text(max_size=200))
def test_no_typed_text_becomes_markdown(typed: str) -> None:
    """Whatever a person typed shows as typed: markdown only when nothing in it means
    anything to markdown, else text with at most zero-width spaces added after "<"."""
    (message,) = text_messages(f"<b>备注</b>\n{html.escape(typed)}")
    if message["msgtype"] == "markdown":
        assert not re.search(r"[*_`\[\]<>~\\$]|^[ \t]*#", typed, re.MULTILINE)
        assert message["markdown"]["content"] == f"**备注**\n{typed}"
    else:
        content = message["text"]["content"]
        assert not re.search(r"<[A-Za-z/!?]", content)
        assert content.replace(ZERO_WIDTH_SPACE, "") == f"备注\n{typed}".replace(
            ZERO_WIDTH_SPACE, ""
        )


@given(st.text(alphabet=st.sampled_from(["检", "a", "\n", "é", "😀"]), max_size=3000))
def test_split_keeps_every_line_within_the_byte_limit(text: str) -> None:
    pieces = split_utf8(text, 100)
    assert all(0 < len(p.encode()) <= 100 for p in pieces)
    assert "".join(pieces).replace("\n", "") == text.replace("\n", "")


def test_pack_keeps_rows_together_levels_first() -> None:
    levels = [row("l0"), row("l1"), row("l2"), row("l3")]
    actions = [row("na", "p", "m"), row("v", "c", "pa")]
    groups = pack([*levels, *actions])
    assert groups is not None
    assert [[key for _, key in g] for g in groups] == [
        ["l0", "l1", "l2", "l3"],
        ["na", "p", "m", "v", "c", "pa"],
    ]
    three = pack([row("l0"), row("l1"), row("l2"), *actions])
    assert three is not None
    assert [len(g) for g in three] == [6, 3]


def test_pack_falls_back_when_cards_cannot_hold_the_buttons() -> None:
    assert pack([row(*(f"j{n}" for n in range(13)))]) is None
    assert pack([row("a", "b"), row("a")]) is None  # WeCom keys must be unique
    wide = pack([row("a", "b", "c", "d", "e"), row("f", "g"), row("h", "i", "j", "k", "l")])
    assert wide is not None
    assert [len(g) for g in wide] == [6, 6]


def test_card_face() -> None:
    assert card_face("<b>标题</b>\n正文") == ("标题", "正文")
    long_title = "很" * 40
    assert card_face(f"{long_title}\n正文") == ("", f"{long_title}\n正文")
    assert card_face("标题\n" + "字" * (CARD_TEXT_CHARS + 1)) is None


def test_numbered_rendering() -> None:
    buttons = [row(*(f"J:1:1:{n}" for n in range(15)))]
    result = rendering("<b>三、客户服务</b>", buttons)
    assert result.cards == ()
    assert result.options == tuple(f"J:1:1:{n}" for n in range(15))
    (message,) = result.texts
    content = message["markdown"]["content"]
    assert content.startswith("**三、客户服务**\n\n1. J:1:1:0\n2. J:1:1:1\n")
    assert content.endswith("15. J:1:1:14\n请回复编号选择。")


def test_sent_cards_round_trip_and_fit_the_column() -> None:
    sent = SentCards(("pj1-a-0", "pj1-a-1"), ("code0", None))
    assert sent.encode() == "card:pj1-a-0=code0,pj1-a-1"
    assert SentCards.parse(sent.encode()) == sent
    long = SentCards(("pj1-a-0", "pj1-a-1"), ("x" * 80, "y" * 80))
    assert long.encode() == "card:pj1-a-0,pj1-a-1"
    assert SentCards.parse("msg:123") is None
    assert SentCards.parse(None) is None


def test_card_book_offers_fresh_unused_codes() -> None:
    clock = FakeClock(0.0)
    book = CardBook(clock=clock)
    sent = SentCards(("t",), ("send-code",))  # the code kept in the channel message id
    book.add_code("t", "send-code")
    clock.advance(10)
    book.add_code("t", "click-code")
    assert book.codes(sent, 0) == ["click-code", "send-code"]
    book.use("t", "click-code")
    assert book.codes(sent, 0) == ["send-code"]
    book.add_code("t", "click-code")  # a redelivered press brings no spent code back
    assert book.codes(sent, 0) == ["send-code"]
    book.add_code("t", "late-code")
    clock.advance(72 * 3600)
    assert book.codes(SentCards(("t",), (None,)), 0) == []


def test_card_book_follows_replacements() -> None:
    book = CardBook()
    book.replace("card:a", "card:b")
    book.replace("card:b", "num:c")
    assert book.current("card:a") == "num:c"
    book.replace("num:c", "card:a")  # a cycle ends instead of looping
    assert book.current("card:a") == "num:c"


@given(
    st.integers(min_value=0, max_value=120),
    st.integers(min_value=1, max_value=30),
    st.integers(min_value=0, max_value=120),
)
def test_a_long_line_is_not_cut_inside_its_bold(before: int, bold: int, after: int) -> None:
    """A line over the limit is cut before a bold span that would straddle the cut, so each
    piece of a markdown message holds whole **…** pairs."""
    line = "检" * before + "**" + "重" * bold + "**" + "a" * after
    pieces = split_utf8(line, 100)
    assert all(0 < len(p.encode()) <= 100 for p in pieces)
    assert "".join(pieces) == line
    assert all(p.count("**") % 2 == 0 for p in pieces)
