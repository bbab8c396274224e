"""A long message in HTML parse mode as several messages Telegram accepts, in order.

The text is cut into tokens that are never split — a tag, a character entity (`&lt;`), one
character — and packed into pieces of at most `limit` UTF-16 code units of HTML (Telegram
counts the visible text, so the HTML is a safe upper bound). A piece ends at its last line
break that fits, or, in a line too long for one piece, at the last token that fits (never
after an opening tag). Tags open at a cut are closed at the end of the piece and opened again
at the start of the next, so every piece is valid on its own. Joined, the pieces give back the
text apart from those re-opened tags; pieces that would show nothing but white space are left
out (Telegram refuses an empty message).
"""

from __future__ import annotations

import re

MAX_TEXT = 4096
_TOKEN = re.compile(
    r"</?[A-Za-z][\w-]*(?:\s[^<>]*)?>|&(?:[A-Za-z][A-Za-z0-9]*|#[0-9]+|#[xX][0-9A-Fa-f]+);|.",
    re.DOTALL,
)
_CLOSING = re.compile(r"</([A-Za-z][\w-]*)>")
_OPENING = re.compile(r"<([A-Za-z][\w-]*)")

# An open tag: its name and the opening tag as written (attributes and all).
Open = tuple[str, str]


def units(text: str) -> int:
    """Length in UTF-16 code units, as Telegram counts."""
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def _closers(stack: tuple[Open, ...]) -> str:
    return "".join(f"</{name}>" for name, _ in reversed(stack))


def _after(stack: tuple[Open, ...], token: str) -> tuple[tuple[Open, ...], bool]:
    """The open tags after `token`, and whether `token` opened one."""
    if not token.startswith("<") or len(token) == 1:
        return stack, False
    closing = _CLOSING.fullmatch(token)
    if closing is not None:
        name = closing.group(1).lower()
        for index in range(len(stack) - 1, -1, -1):
            if stack[index][0] == name:
                return stack[:index] + stack[index + 1 :], False
        return stack, False
    opening = _OPENING.match(token)
    assert opening is not None
    return (*stack, (opening.group(1).lower(), token)), True


def _visible(token: str) -> bool:
    """Whether the token shows something other than white space (an entity, a character)."""
    return not token.isspace() and not (token.startswith("<") and len(token) > 1)


def split_text(text: str, limit: int = MAX_TEXT, *, at_lines: bool = True) -> list[str]:
    """`text` as pieces of at most `limit` UTF-16 code units, each with balanced tags; cut
    at line breaks where there are any (`at_lines`), else as late as the limit allows."""
    if units(text) <= limit:
        return [text]
    tokens = _TOKEN.findall(text)
    pieces: list[str] = []
    stack: tuple[Open, ...] = ()
    index = 0
    while index < len(tokens):
        start, opened = index, stack
        size = units("".join(tag for _, tag in stack))
        line_end: tuple[int, tuple[Open, ...]] | None = None
        token_end: tuple[int, tuple[Open, ...]] | None = None
        shows = False
        while index < len(tokens):
            token = tokens[index]
            after, opens = _after(stack, token)
            grown = size + units(token)
            if grown + units(_closers(after)) > limit and index > start:
                break
            size, stack = grown, after
            index += 1
            shows = shows or _visible(token)
            if shows and not opens:
                token_end = (index, stack)
                if token == "\n" and at_lines:
                    line_end = (index, stack)
        if index < len(tokens):
            cut = line_end or token_end or (index, stack)
            index, stack = cut
            while index < len(tokens) and stack and tokens[index] == f"</{stack[-1][0]}>":
                stack = stack[:-1]
                index += 1
        body = "".join(tokens[start:index])
        piece = "".join(tag for _, tag in opened) + body + _closers(stack)
        if any(_visible(token) for token in tokens[start:index]):
            pieces.append(piece)
    return pieces


def first_piece(text: str, limit: int) -> str:
    """As much of `text` from its start as fits in `limit` (an edit, a caption), valid HTML."""
    pieces = split_text(text, limit, at_lines=False)
    return pieces[0] if pieces else ""
