"""Long messages as several Telegram messages: in order, each within the limit, each valid
HTML for Telegram (checked with the fake Bot API's parser, which follows TDLib's)."""

from __future__ import annotations

import html
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.handlers.telegram_split import MAX_TEXT, first_piece, split_text, units
from tests.fakes.telegram_limits import format_text, parse_html

pytestmark = pytest.mark.database_neutral

_CHARS = st.sampled_from(["检", "查", "a", "1", " ", "\n", "\n", "😀", "<", ">", "&", '"', "'"])
_LEAF = st.text(alphabet=_CHARS, max_size=80).map(html.escape)


def _nodes(tags: frozenset[str]) -> st.SearchStrategy[str]:
    """Text and tags nested as the templates nest them (each tag at most once on a path)."""
    return st.one_of(
        _LEAF,
        *(
            st.lists(_nodes(tags - {tag}), max_size=3).map(
                lambda parts, tag=tag: f"<{tag}>{''.join(parts)}</{tag}>"
            )
            for tag in sorted(tags)
        ),
    )


HTML_TEXT = st.lists(_nodes(frozenset({"b", "i", "code"})), max_size=25).map("".join)
_REOPENED = re.compile(r"</(b|i|code)><\1>|<(b|i|code)></\2>")


def _normal(text: str) -> str:
    """The text with a tag closed and opened again at once (a cut) read as not closed, and
    empty tags (nothing to show) left out."""
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
    # Joined, the pieces are the text (tags closed and opened again at a cut read as one).
    bare = _normal(re.sub(r"\s", "", "".join(pieces)))
    assert bare == _normal(re.sub(r"\s", "", text))
    # Each piece shows a stretch of the text, in order; only white space at a cut (which
    # Telegram trims from every message anyway) may fall between two pieces.
    shown, at = _visible(text), 0
    for piece in pieces:
        part = _visible(piece)
        found = shown.find(part, at)
        assert found >= 0 and not shown[at:found].strip()
        at = found + len(part)
    assert not shown[at:].strip()


@settings(max_examples=100, deadline=None)
@given(text=HTML_TEXT, limit=st.integers(min_value=48, max_value=400))
def test_first_piece_is_the_start_of_the_text(text: str, limit: int) -> None:
    piece = first_piece(text, limit)
    assert units(piece) <= limit
    visible = _visible(piece)
    assert _visible(text).lstrip().startswith(visible.lstrip())  # Telegram trims the start
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
