"""What a monthly 通报 shows, read once from the database (bot/flows/bulletin.py) and drawn by
bulletin_excel.py, bulletin_pdf.py and bulletin_chart.py. Plain values only."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from bot.reports.model import change_text, percent_text

UNCONFIRMED_MARK = "※"
UNCONFIRMED_LEGEND = "※ 含未确认结果（待确认或申诉中），未确认的结果不计入排名得分率。"
RANK_HEADERS = ("排名", "项目", "区域", "检查次数", "得分率", "等级", "上月得分率", "较上月")
KPI_HEADERS = (
    "得分率",
    "整改任务",
    "已完成",
    "按时完成",
    "整改完成率",
    "整改及时率",
    "逾期未整改",
)
FINDING_HEADERS = ("项目", "序号", "标准内容", "严重程度", "责任人", "达标时间", "状态")
LOSS_HEADERS = ("排名", "标准", "序号", "标准内容", "失分次数", "累计失分")


def rate_text(value: float | None) -> str:
    """A KPI rate (0–1) as people read it: 66.7%, or — when nothing was counted."""
    return percent_text(None if value is None else value * 100)


@dataclass(frozen=True)
class RankRow:
    """A project in the ranking. `percent` is the 得分率 of its confirmed results only;
    `unconfirmed` counts its results of the month still 待确认 or 申诉中 (marked ※)."""

    rank: int | None  # None: no confirmed inspection completed in the month
    site: str
    region: str
    inspections: int
    unconfirmed: int
    percent: float | None
    grade: str | None
    previous: float | None
    change: float | None

    def cells(self) -> tuple[str, ...]:
        site, inspections, grade = self.site, str(self.inspections), self.grade or "未检查"
        if self.unconfirmed:
            site = f"{site}{UNCONFIRMED_MARK}"
            inspections = f"{inspections}（含未确认 {self.unconfirmed}）"
            grade = self.grade or "待确认"
        return (
            "—" if self.rank is None else str(self.rank),
            site,
            self.region or "—",
            inspections,
            percent_text(self.percent),
            grade,
            percent_text(self.previous),
            change_text(self.change),
        )


@dataclass(frozen=True)
class KpiRow:
    name: str
    score_rate: float | None
    tasks: int
    completed: int
    completed_on_time: int
    completion_rate: float | None
    timely_rate: float | None
    overdue_open: int

    def cells(self) -> tuple[str, ...]:
        return (
            rate_text(self.score_rate),
            str(self.tasks),
            str(self.completed),
            str(self.completed_on_time),
            rate_text(self.completion_rate),
            rate_text(self.timely_rate),
            str(self.overdue_open),
        )


@dataclass(frozen=True)
class FindingRow:
    site: str
    no: int | None
    content: str
    severity: str
    responsible: str
    due: str
    status: str

    def cells(self) -> tuple[str, ...]:
        no = "—" if self.no is None else str(self.no)
        return (self.site, no, self.content, self.severity, self.responsible, self.due, self.status)


@dataclass(frozen=True)
class LossRow:
    standard: str
    no: int
    content: str
    findings: int
    points_lost: float


@dataclass(frozen=True)
class BulletinModel:
    month: str  # 2026-11
    period: str  # 2026年11月
    scope: str  # 全公司 / 华东区域
    issued: date
    ranking: tuple[RankRow, ...]
    sites: tuple[KpiRow, ...]
    regions: tuple[KpiRow, ...]
    total: KpiRow
    findings: tuple[FindingRow, ...]
    losses: tuple[LossRow, ...]
    bands: tuple[tuple[float, str], ...]

    @property
    def marked(self) -> bool:
        """Whether a project in the ranking has unconfirmed results (the legend is shown)."""
        return any(r.unconfirmed for r in self.ranking)

    @property
    def title(self) -> str:
        return f"{self.period}品质检查通报"

    @property
    def heading(self) -> str:
        """The line under the title: who issues it, for which scope, when."""
        return f"发文：品质部　范围：{self.scope}　发布日期：{self.issued:%Y-%m-%d}"

    def summary(self) -> str:
        """The opening paragraph, also the chat message the files go with."""
        inspected = [r for r in self.ranking if r.inspections]
        ranked = [r for r in self.ranking if r.rank is not None]
        total = self.total
        lines = [
            f"{self.period}，{self.scope}共完成检查 {sum(r.inspections for r in inspected)} 次，"
            f"涉及项目 {len(inspected)} 个，平均得分率 {rate_text(total.score_rate)}。",
            f"本月应整改任务 {total.tasks} 项，已完成 {total.completed} 项，"
            f"整改完成率 {rate_text(total.completion_rate)}，"
            f"整改及时率 {rate_text(total.timely_rate)}；逾期未整改 {total.overdue_open} 项。",
        ]
        unconfirmed = sum(r.unconfirmed for r in self.ranking)
        if unconfirmed:
            lines.append(f"其中未确认结果（待确认或申诉中）{unconfirmed} 次，不计入排名。")
        if ranked:
            best, worst = ranked[0], ranked[-1]
            lines.append(
                f"得分率最高：{best.site}（{percent_text(best.percent)}）；"
                f"最低：{worst.site}（{percent_text(worst.percent)}）。"
            )
        if self.losses:
            top = self.losses[0]
            lines.append(f"失分最多的检查项：{top.content or top.no}（{top.findings} 次）。")
        return "\n".join(lines)
