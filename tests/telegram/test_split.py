"""Long messages as several Telegram messages: in order, each within the limit, each valid
HTML for Telegram (checked with the fake Bot API's parser, which follows TDLib's)."""

from __future__ import annotations

import html
import re

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.handlers.telegram_split import MAX_TEXT, first_piece, split_text, units
from tests.fakes.telegram_limits import format_text, parse_html

_CHARS = st.sampled_from(["检", "查", "a", "1", " ", "\n", "\n", "😀", "<", ">", "&", '"', "'"])
_LEAF = st.text(alphabet=_CHARS, max_size=80).map(html.escape)


def _tagged(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.tuples(st.sampled_from(["b", "i", "code"]), st.lists(children, max_size=4)).map(
        lambda tag: f"<{tag[0]}>{''.join(tag[1])}</{tag[0]}>"
    )


HTML_TEXT = st.lists(st.recursive(_LEAF, _tagged, max_leaves=12), max_size=25).map("".join)
_REOPENED = re.compile(r"</(b|i|code)><\1>|<(b|i|code)></\2>")
_BLANK_RUN = re.compile(r"(?:\s|</?(?:b|i|code)>)+")


def _normal(text: str) -> str:
    """The text with a tag closed and opened again at once (a cut) read as not closed."""
    while True:
        shorter = _REOPENED.sub("", text)
        if shorter == text:
            return text
        text = shorter


def _visible(text: str) -> str:
    return parse_html(text)[0]


@settings(max_examples=300, deadline=None)
@given(text=HTML_TEXT, limit=st.integers(min_value=48, max_value=400))
def test_pieces_are_in_order_within_the_limit_and_valid_html(text: str, limit: int) -> None:
    pieces = split_text(text, limit)
    if units(text) <= limit:
        assert pieces == [text]
        return
    for piece in pieces:
        assert units(piece) <= limit
        visible, _ = parse_html(piece)  # raises on a broken tag or entity
        assert visible.strip()
    joined = _normal("".join(pieces))
    assert re.sub(r"\s", "", joined) == re.sub(r"\s", "", _normal(text))
    # Only a stretch of white space too long for a piece is left out (nothing to show).
    if max((len(m) for m in _BLANK_RUN.findall(text)), default=0) < limit // 2:
        assert joined == _normal(text)
        assert "".join(_visible(p) for p in pieces) == _visible(text)


@settings(max_examples=100, deadline=None)
@given(text=HTML_TEXT, limit=st.integers(min_value=48, max_value=400))
def test_first_piece_is_the_start_of_the_text(text: str, limit: int) -> None:
    piece = first_piece(text, limit)
    assert units(piece) <= limit
    visible = _visible(piece)
    assert _visible(text).startswith(visible)
    if units(text) > limit and _visible(text).strip():
        assert visible.strip()


def test_a_header_above_an_over_long_line_comes_first() -> None:
    text = "<b>整改任务 #12</b>\n问题：" + "记录缺页" * 1500 + "\n<b>达标时间</b> 2026-11-20"
    pieces = split_text(text)
    assert pieces[0] == "<b>整改任务 #12</b>\n"
    assert pieces[-1].endswith("<b>达标时间</b> 2026-11-20")
    assert "".join(pieces) == text
    for piece in pieces:
        visible, _ = format_text(piece, "HTML")  # the fake Bot API's checks, limit included
        assert visible


def test_cuts_never_fall_inside_a_tag_or_an_entity() -> None:
    text = "<b>" + "&lt;检&amp;" * 2000 + "</b>"
    pieces = split_text(text)
    assert len(pieces) > 1
    for piece in pieces:
        assert re.fullmatch(r"<b>(?:&lt;|检|&amp;)+</b>", piece)
        assert units(piece) <= MAX_TEXT
        format_text(piece, "HTML")
    assert _normal("".join(pieces)) == text
