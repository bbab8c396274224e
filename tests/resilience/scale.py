"""How hard the resilience tests push: the CI variant by default, the long one by hand with
PINJIAN_RESILIENCE_LONG=1 (see docs/RELIABILITY.md)."""

from __future__ import annotations

import os

LONG = os.environ.get("PINJIAN_RESILIENCE_LONG", "") not in ("", "0")


def scaled(ci: int, long: int) -> int:
    return long if LONG else ci
