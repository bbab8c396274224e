"""Outgoing.from_payload reads back every outbox payload the bot writes (and those older
versions wrote), so that adapters read typed fields instead of dict keys."""

from __future__ import annotations

from typing import Any

import pytest

from bot.core.messages import (
    Button,
    FileRequest,
    GroupPost,
    OutboxKind,
    Outgoing,
    Stamped,
    album,
)
from bot.core.report_request import ReportFormat, bulletin_request, report_request

SHA = "a" * 64
OTHER = "b" * 64

MESSAGES = [
    Outgoing(
        kind=OutboxKind.SEND,
        text="<b>第 1 项</b>",
        buttons=((Button("1分", "S:3:1"), Button("0分", "S:3:0")), (Button("⬅ 上一项", "B:3"),)),
        ref="item",
    ),
    Outgoing(kind=OutboxKind.EDIT, text="✓ 第 1 项", edit_ref="item"),
    Outgoing(kind=OutboxKind.ANSWER_CALLBACK, text="已过期", callback_id="cb7", alert=True),
    album("整改前", [SHA, Stamped(OTHER, "阳光花园 · 第 3 项")]),
    Outgoing(kind=OutboxKind.SEND_PHOTO, photos=(OTHER,), stamped=(SHA,)),
    Outgoing(kind=OutboxKind.SEND_DOCUMENT, text="报告", document=SHA, document_name="报告.pdf"),
    Outgoing(kind=OutboxKind.SEND, text="我打的字", from_person=True, client_key="m-17"),
    Outgoing(kind=OutboxKind.SEND, text="逾期", group=GroupPost(4, ("zhangsan",), ())),
    Outgoing(kind=OutboxKind.SEND, text="结果", group=GroupPost(5)),
    Outgoing(
        kind=OutboxKind.SEND_DOCUMENT,
        text="检查报告",
        request=FileRequest(ReportFormat.PDF, report=12),
    ),
    Outgoing(
        kind=OutboxKind.SEND_PHOTO,
        text="图表",
        request=FileRequest(ReportFormat.PNG, report=12, asked="5f0c9e2a"),
    ),
    Outgoing(
        kind=OutboxKind.SEND_DOCUMENT,
        text="月度通报",
        request=FileRequest(ReportFormat.XLSX, bulletin="2026-11", region=None),
        group=GroupPost(2, (), ("13800000000",)),
    ),
    Outgoing(
        kind=OutboxKind.SEND_DOCUMENT,
        document=OTHER,
        document_name="通报.pdf",
        request=FileRequest(ReportFormat.PDF, bulletin="2026-11", region=3),
    ),
]


@pytest.mark.parametrize("message", MESSAGES, ids=lambda m: f"{m.kind.value}:{m.text[:6]}")
def test_every_kind_of_message_comes_back_from_its_payload(message: Outgoing) -> None:
    payload = message.to_payload()
    read = Outgoing.from_payload(payload, message.kind, ref=message.ref, edit_ref=message.edit_ref)
    assert read == message
    assert read.to_payload() == payload


def plain(kind: OutboxKind, text: str) -> dict[str, Any]:
    return Outgoing(kind=kind, text=text).to_payload()


WRITTEN: list[tuple[OutboxKind, dict[str, Any]]] = [
    # bot.flows.summaries / group_posts: a report file rendered on the way out
    (
        OutboxKind.SEND_PHOTO,
        plain(OutboxKind.SEND_PHOTO, "图表") | report_request(9, ReportFormat.PNG),
    ),
    # ... and as one of a request's rows, which share one model read
    (
        OutboxKind.SEND_DOCUMENT,
        plain(OutboxKind.SEND_DOCUMENT, "报告") | report_request(9, ReportFormat.PDF, "5f0c9e2a"),
    ),
    # bot.flows.bulletin: a month's 通报
    (
        OutboxKind.SEND_DOCUMENT,
        plain(OutboxKind.SEND_DOCUMENT, "通报") | bulletin_request("2026-10", 1, ReportFormat.PDF),
    ),
    # bot.flows.group_posts: a post with its group and mentions
    (
        OutboxKind.SEND,
        plain(OutboxKind.SEND, "严重不合格")
        | {"group": 3, "mentioned_list": ["lisi"], "mentioned_mobile_list": []},
    ),
    # bot.reports.renditions, once prepared: renditions in photos, the originals in stamped
    (
        OutboxKind.SEND_PHOTO,
        Outgoing(kind=OutboxKind.SEND_PHOTO, photos=(OTHER,)).to_payload()
        | {"group": 3, "stamped": [SHA]},
    ),
    # bot.reports.service, once prepared: the rendered file named
    (
        OutboxKind.SEND_DOCUMENT,
        plain(OutboxKind.SEND_DOCUMENT, "报告")
        | report_request(9, ReportFormat.XLSX)
        | {"document": SHA, "document_name": "阳光花园.xlsx"},
    ),
]


@pytest.mark.parametrize(("kind", "payload"), WRITTEN)
def test_rows_written_as_dicts_keep_every_key(kind: OutboxKind, payload: dict[str, Any]) -> None:
    assert Outgoing.from_payload(payload, kind).to_payload() == payload


def test_a_group_post_is_tagged_as_before() -> None:
    assert GroupPost(3).to_payload() == {"group": 3}
    assert GroupPost(3, ("lisi",)).to_payload() == {
        "group": 3,
        "mentioned_list": ["lisi"],
        "mentioned_mobile_list": [],
    }


@pytest.mark.parametrize(
    ("kind", "payload", "expected"),
    [
        (OutboxKind.SEND, {}, Outgoing(kind=OutboxKind.SEND)),
        (OutboxKind.SEND, {"text": "旧"}, Outgoing(kind=OutboxKind.SEND, text="旧")),
        (
            OutboxKind.SEND,
            {"text": "我打的字", "extra": {"web_from_person": 1}},
            Outgoing(kind=OutboxKind.SEND, text="我打的字", from_person=True),
        ),
        (
            OutboxKind.SEND_PHOTO,
            {"text": None, "photos": [SHA]},
            Outgoing(kind=OutboxKind.SEND_PHOTO, photos=(SHA,)),
        ),
        (
            OutboxKind.SEND_DOCUMENT,
            {"document": SHA},
            Outgoing(kind=OutboxKind.SEND_DOCUMENT, document=SHA),
        ),
        (
            OutboxKind.ANSWER_CALLBACK,
            {"callback_id": "cb1"},
            Outgoing(kind=OutboxKind.ANSWER_CALLBACK, callback_id="cb1"),
        ),
        (
            OutboxKind.SEND_DOCUMENT,
            {"text": "通报", "bulletin": "2026-09", "format": "pdf"},
            Outgoing(
                kind=OutboxKind.SEND_DOCUMENT,
                text="通报",
                request=FileRequest(ReportFormat.PDF, bulletin="2026-09"),
            ),
        ),
    ],
)
def test_rows_of_older_versions_read_with_defaults_for_missing_keys(
    kind: OutboxKind, payload: dict[str, Any], expected: Outgoing
) -> None:
    assert Outgoing.from_payload(payload, kind) == expected
