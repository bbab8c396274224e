"""The sign-off block of the Excel and PDF reports, as lines of text (one wording for both)."""

from __future__ import annotations

from bot.reports.model import AppealRow, SignOff


def _score(value: float | None) -> str:
    return "—" if value is None else f"{value:g}分"


def _appeal(appeal: AppealRow) -> str:
    text = (
        f"申诉 第 {appeal.item_no} 项：{appeal.filed_by} {appeal.filed_at}，理由：{appeal.reason}"
    )
    if not appeal.decided_at:
        return f"{text}；待裁决"
    change = ""
    if appeal.score_after != appeal.score_before:
        change = f" {_score(appeal.score_before)} → {_score(appeal.score_after)}"
    why = f"，理由：{appeal.decision_reason}" if appeal.decision_reason else ""
    return (
        f"{text}；裁决：{appeal.decision}{change}（{appeal.decided_by} {appeal.decided_at}{why}）"
    )


def heading(signoff: SignOff) -> str:
    return f"签字确认（第 {signoff.revision} 版）"


def lines(signoff: SignOff) -> list[str]:
    if signoff.how == "逾期自动确认":
        responsible = f"项目负责人：—　逾期自动确认：{signoff.confirmed}"
    elif signoff.confirmed:
        responsible = f"项目负责人：{signoff.responsible}　确认时间：{signoff.confirmed}"
    else:
        responsible = f"项目负责人：待确认（申诉期至 {signoff.deadline}）"
    return [
        f"检查员：{signoff.inspector}　提交时间：{signoff.submitted}",
        responsible,
        f"结果状态：{signoff.status}",
        *(_appeal(a) for a in signoff.appeals),
    ]
