"""Every user-facing text comes from a jinja2 template under bot/templates/<locale>/."""

from __future__ import annotations

from functools import cache, lru_cache
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined

DEFAULT_LOCALE = "zh_CN"


def _score(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value:g}"


def _percent(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value:.1f}%"


@lru_cache(maxsize=4)
def _environment(locale: str, escape: bool = True) -> Environment:
    env = Environment(
        loader=PackageLoader("bot", f"templates/{locale}"),
        autoescape=escape,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
        undefined=StrictUndefined,
        # Templates ship with the program: no stat() of the file on every render.
        auto_reload=False,
    )
    env.filters["score"] = _score
    env.filters["percent"] = _percent
    return env


def render(name: str, /, **context: Any) -> str:
    """Render `name` (without .j2) to text; user values are HTML-escaped by autoescape."""
    return _environment(DEFAULT_LOCALE).get_template(f"{name}.j2").render(**context).strip()


def label(group: str, key: str, /, **context: Any) -> str:
    """A short text (a button label, a status or event name) kept as the macro `key` of
    labels/<group>.j2, so that one file holds every label of a kind; user values are escaped."""
    if not context:
        return _fixed(group, key, escape=True)
    return _macro(group, key, True, context).strip()


def labels(group: str, /, *keys: str) -> tuple[str, ...]:
    """Several labels of one group, in order (the column headers of a table)."""
    return tuple(label(group, key) for key in keys)


def plain(group: str, key: str, /, **context: Any) -> str:
    """Like `label`, but user values stay as given, spaces at either end included: for text
    that is escaped later, where a template shows it as a value, or never (PDF, Excel and
    chart images are not HTML). The macro is written without surrounding whitespace."""
    if not context:
        return _fixed(group, key, escape=False)
    return _macro(group, key, False, context)


def _macro(group: str, key: str, escape: bool, context: dict[str, Any]) -> str:
    module = _environment(DEFAULT_LOCALE, escape).get_template(f"labels/{group}.j2").module
    return str(getattr(module, key)(**context))


@cache
def _fixed(group: str, key: str, *, escape: bool) -> str:
    """A label without values: the same text every time (templates ship with the program), so
    made once (for the N = 50 capacity goal, docs/BENCHMARKS.md: an item's card has ten)."""
    text = _macro(group, key, escape, {})
    return text.strip() if escape else text
