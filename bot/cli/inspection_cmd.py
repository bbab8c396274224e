"""`pinjian inspection show ID [--json]`: a submitted inspection's result with its status
(待确认 / 申诉中 / 已确认), findings, appeals and decisions."""

from __future__ import annotations

import argparse
import json
from typing import Any

from bot.cli.common import CliError, SubParsers
from bot.cli.dbctx import run_with_db
from bot.config import Settings
from bot.reports import signoff
from bot.reports.model import ReportError, ReportModel, load_report
from storage.db import Database


def register(commands: SubParsers) -> None:
    group = commands.add_parser(
        "inspection",
        help="查看检查结果 (show an inspection's result, status and appeals)",
        description="查看已提交检查的结果：确认状态、不合格项、申诉及裁决。",
    )
    actions = group.add_subparsers(dest="action", metavar="ACTION")
    actions.required = True
    show = actions.add_parser(
        "show",
        help="显示一次检查的结果 (show one inspection)",
        description="显示检查结果、结果状态（待确认 / 申诉中 / 已确认）、不合格项、申诉及裁决。",
    )
    show.add_argument("inspection", type=int, metavar="INSPECTION_ID", help="检查编号")
    show.add_argument("--json", action="store_true", help="以 JSON 输出 (stable format)")
    show.set_defaults(handler=_show)


def as_dict(model: ReportModel) -> dict[str, Any]:
    """The stable JSON form."""
    block = model.signoff
    return {
        "inspection": model.inspection_id,
        "site": model.site,
        "standard": model.title,
        "inspector": model.inspector,
        "submitted": model.completed,
        "score": model.score,
        "max_score": model.applicable_max,
        "percent": None if model.percent is None else round(model.percent, 1),
        "grade": model.grade,
        "status": block.status if block else "已确认",
        "confirmation": None
        if block is None
        else {
            "how": block.how or None,
            "by": block.responsible or None,
            "at": block.confirmed or None,
            "deadline": block.deadline,
            "revision": block.revision,
        },
        "findings": [
            {
                "no": item.no,
                "content": item.content,
                "score": item.score,
                "max_score": item.max_score,
                "level": item.level,
                "task": item.status or None,
            }
            for item in model.items
            if not item.not_applicable and item.score is not None and item.score < item.max_score
        ],
        "appeals": [
            {
                "item_no": a.item_no,
                "filed_by": a.filed_by,
                "filed_at": a.filed_at,
                "reason": a.reason,
                "decision": a.decision,
                "decided_by": a.decided_by or None,
                "decided_at": a.decided_at or None,
                "decision_reason": a.decision_reason or None,
                "score_before": a.score_before,
                "score_after": a.score_after,
            }
            for a in (block.appeals if block else ())
        ],
    }


def _text(model: ReportModel) -> list[str]:
    data = as_dict(model)
    grade = f"　{model.grade}" if model.grade else ""
    percent = "—" if data["percent"] is None else f"{data['percent']:.1f}%"
    lines = [
        f"检查 #{model.inspection_id}　{model.site}　{model.title}",
        f"得分 {model.score:g} / {model.applicable_max:g}（{percent}）{grade}",
        f"结果状态：{data['status']}",
    ]
    if model.signoff is not None:
        lines += signoff.lines(model.signoff)[:2]
    lines.append(f"不合格项 {len(data['findings'])} 项：")
    for finding in data["findings"]:
        task = f"　整改：{finding['task']}" if finding["task"] else ""
        lines.append(
            f"　第 {finding['no']} 项 {finding['score']:g}/{finding['max_score']:g}分 "
            f"{finding['level']}　{finding['content']}{task}"
        )
    if model.signoff is not None:
        lines += [line for line in signoff.lines(model.signoff) if line.startswith("申诉")]
    return lines


def _show(args: argparse.Namespace) -> int:
    async def work(db: Database, settings: Settings) -> ReportModel:
        try:
            return await load_report(db, args.inspection)
        except ReportError as exc:
            raise CliError(str(exc)) from None

    model = run_with_db(work)
    if args.json:
        print(json.dumps(as_dict(model), ensure_ascii=False, indent=2))
    else:
        print("\n".join(_text(model)))
    return 0
