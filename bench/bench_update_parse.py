"""Per-update cost of reading a Bot API update (bot.handlers.telegram_update.parse): a button
press (the commonest update, carrying the pressed message with its keyboard) and a photo.

Usage: python -m bench.bench_update_parse [--module PATH] [--runs N]
--module times the `parse` of another copy of the module (e.g. an older version saved from
git) for a before/after comparison in one run on one machine.
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bot.handlers import telegram_update

USER = {"id": 5001, "is_bot": False, "first_name": "王", "last_name": "检查"}
CHAT = {"id": 5001, "type": "private", "first_name": "王"}
KEYBOARD = {
    "inline_keyboard": [
        [{"text": f"{n}分", "callback_data": f"I:S:1:{n}"} for n in (0, 0.5, 1)],
        [{"text": "不适用", "callback_data": "I:N:1"}, {"text": "备注", "callback_data": "I:M:1"}],
    ]
}
PRESS = {
    "update_id": 77,
    "callback_query": {
        "id": "4000000000000000077",
        "from": USER,
        "chat_instance": "1",
        "data": "I:S:1:1",
        "message": {
            "message_id": 9,
            "date": 1_764_000_000,
            "chat": CHAT,
            "from": {"id": 1, "is_bot": True, "first_name": "品鉴"},
            "text": "第 1/62 项 · 客服中心\n服务人员着装整洁，佩戴工牌",
            "entities": [{"type": "bold", "offset": 0, "length": 8}],
            "reply_markup": KEYBOARD,
        },
    },
}
PHOTO = {
    "update_id": 78,
    "message": {
        "message_id": 10,
        "date": 1_764_000_000,
        "chat": CHAT,
        "from": USER,
        "caption": "大堂",
        "photo": [
            {"file_id": f"f{side}", "file_unique_id": f"u{side}", "width": side, "height": side}
            for side in (90, 320, 800, 1280)
        ],
    },
}


def _parser(path: str | None) -> Callable[[Any], Any]:
    if path is None:
        return telegram_update.parse
    spec = importlib.util.spec_from_file_location("other_telegram_update", Path(path))
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # (its dataclasses look their module up)
    spec.loader.exec_module(module)
    parse: Callable[[Any], Any] = module.parse
    return parse


def _per_call_us(parse: Callable[[Any], Any], data: dict[str, Any], runs: int) -> float:
    """The median over 7 rounds of the mean time of one call, in µs."""
    rounds = []
    for _ in range(7):
        start = time.perf_counter()
        for _ in range(runs):
            parse(data)
        rounds.append((time.perf_counter() - start) / runs * 1e6)
    return statistics.median(rounds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--module", help="time the parse of this copy of telegram_update.py")
    parser.add_argument("--runs", type=int, default=5000)
    args = parser.parse_args()
    parse = _parser(args.module)
    for name, data in (("button press", PRESS), ("photo message", PHOTO)):
        print(f"{name}: {_per_call_us(parse, data, args.runs):.1f} µs per update")


if __name__ == "__main__":
    main()
