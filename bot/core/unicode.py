"""What counts as well-formed text from a person.

A lone surrogate (``"\\ud800"``, which JSON can carry as an escape) cannot be encoded as UTF-8
and a NUL character cannot be stored by PostgreSQL: either one, once stored, breaks whatever
later encodes the row. Every channel refuses such text at its edge, before anything is stored.
"""

from __future__ import annotations

import re
from typing import Any

_ILL_FORMED = re.compile("[\x00\ud800-\udfff]")


def well_formed(text: str) -> bool:
    """False if ``text`` has a lone surrogate or a NUL character."""
    return _ILL_FORMED.search(text) is None


def well_formed_json(value: Any) -> bool:
    """``well_formed`` for every string (keys included) in decoded JSON, however deeply
    nested (walked without recursion)."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if not well_formed(item):
                return False
        elif isinstance(item, dict):
            stack.extend(item)
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return True
