"""What a monthly 通报 shows, read once from the database (bot/flows/bulletin.py) and drawn by
bulletin_excel.py, bulletin_pdf.py and bulletin_chart.py. Plain values only."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from bot.core.texts import label, labels, plain
from bot.reports.model import change_text, percent_text
from storage.records import ResultStatus

UNCONFIRMED_MARK = "※"
UNCONFIRMED_LEGEND = label("bulletin", "unconfirmed_legend")
RANK_HEADERS = labels(
    "columns",
    "rank",
    "site",
    "region",
    "inspections",
    "percent",
    "grade",
    "previous_month_percent",
    "month_change",
)
KPI_HEADERS = labels(
    "columns",
    "percent",
    "tasks",
    "done",
    "on_time",
    "completion_rate",
    "timeliness_rate",
    "overdue_open",
)
FINDING_HEADERS = labels(
    "columns", "site", "no", "content", "severity", "responsible", "due", "status"
)
LOSS_HEADERS = labels("columns", "rank", "standard", "no", "content", "losses", "lost_points")


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
        site, inspections = self.site, str(self.inspections)
        grade = self.grade or label("bulletin", "not_inspected")
        if self.unconfirmed:
            site = f"{site}{UNCONFIRMED_MARK}"
            inspections = plain(
                "bulletin", "with_unconfirmed", count=inspections, unconfirmed=self.unconfirmed
            )
            grade = self.grade or ResultStatus.PENDING.label
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
        return plain("bulletin", "title", period=self.period)

    @property
    def heading(self) -> str:
        """The line under the title: who issues it, for which scope, when."""
        return plain("bulletin", "heading", scope=self.scope, issued=self.issued)

    def summary(self) -> str:
        """The opening paragraph, also the chat message the files go with."""
        inspected = [r for r in self.ranking if r.inspections]
        ranked = [r for r in self.ranking if r.rank is not None]
        total = self.total
        lines = [
            plain(
                "bulletin",
                "summary_inspections",
                period=self.period,
                scope=self.scope,
                inspections=sum(r.inspections for r in inspected),
                sites=len(inspected),
                rate=rate_text(total.score_rate),
            ),
            plain(
                "bulletin",
                "summary_tasks",
                tasks=total.tasks,
                completed=total.completed,
                completion=rate_text(total.completion_rate),
                timely=rate_text(total.timely_rate),
                overdue=total.overdue_open,
            ),
        ]
        unconfirmed = sum(r.unconfirmed for r in self.ranking)
        if unconfirmed:
            lines.append(plain("bulletin", "summary_unconfirmed", count=unconfirmed))
        if ranked:
            best, worst = ranked[0], ranked[-1]
            lines.append(
                plain(
                    "bulletin",
                    "summary_best",
                    best=best.site,
                    best_percent=percent_text(best.percent),
                    worst=worst.site,
                    worst_percent=percent_text(worst.percent),
                )
            )
        if self.losses:
            top = self.losses[0]
            lines.append(
                plain("bulletin", "summary_loss", item=top.content or top.no, count=top.findings)
            )
        return "\n".join(lines)
