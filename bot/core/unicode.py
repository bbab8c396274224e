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
    """``well_formed`` for every string (keys included) in decoded JSON."""
    if isinstance(value, str):
        return well_formed(value)
    if isinstance(value, dict):
        return all(well_formed(key) and well_formed_json(item) for key, item in value.items())
    if isinstance(value, list):
        return all(well_formed_json(item) for item in value)
    return True
