"""Labels come from macros of templates/<locale>/labels/<group>.j2."""

from __future__ import annotations

import pytest

from bot.core.texts import label


def test_label_is_the_macro_of_its_group() -> None:
    assert label("common", "not_applicable") == "不适用"


def test_unknown_label_fails_loudly() -> None:
    with pytest.raises(AttributeError):
        label("common", "no_such_label")
