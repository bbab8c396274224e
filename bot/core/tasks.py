"""How a rectification task reads: its 问题 text, its level, its status with 逾期, and its
severity's name and days. Who may move a task, and when, is bot.core.task_rules.

逾期 is not a state: it is shown whenever the target date has passed and the task is still open
(待整改 or 待复查).
"""

from __future__ import annotations

from datetime import date

from bot.core.company_settings import CompanySettings
from bot.core.task_types import Severity, TaskView
from bot.core.texts import plain
from standards.schema import Item, Level


def finding_for(item: Item, level: Level) -> str:
    """问题 of a task without a note: the level the item should reach and the one it got."""
    top = item.levels[0]
    return plain(
        "task",
        "finding",
        top=top.label,
        got=level.label,
        score=level.score,
        max_score=item.max_score,
    )


def written_for(finding: str, item: Item, score: float | None) -> bool:
    """Whether `finding` is the text written from the level (no inspector's note in it)."""
    level = item.level_for(score) if score is not None else None
    if level is None:
        return False
    return finding in (
        finding_for(item, level),
        plain("scores", "level", score=level.score, name=level.label),
    )


def level_of(task: TaskView, item: Item | None) -> Level | None:
    """The task's own level of its item (the result it was created or rescored with)."""
    if item is None or task.score is None:
        return None
    return item.level_for(task.score)


def status_label(task: TaskView, today: date) -> str:
    shown = task.status.label
    if task.is_overdue(today):
        return plain("task_status", "overdue", status=shown)
    return shown


def days_overdue(task: TaskView, today: date) -> int:
    if task.due_date is None or not task.is_overdue(today):
        return 0
    return (today - task.due_date).days


def severity_name(settings: CompanySettings, severity: Severity) -> str:
    """The company's name for a severity (`severity_names`, mildest first)."""
    return settings.severity_names[list(Severity).index(severity)]


def default_severity(settings: CompanySettings, score: float) -> Severity:
    """The severity proposed for an item answered with `score` (a level that lost points)."""
    return Severity.OBSERVATION if score >= settings.observation_min_score else Severity.GENERAL


def severity_due_days(settings: CompanySettings, severity: Severity) -> int:
    """The default days to 达标时间 for a task of this severity."""
    return {
        Severity.OBSERVATION: settings.observation_due_days,
        Severity.GENERAL: settings.default_due_days,
        Severity.SERIOUS: settings.serious_due_days,
    }[severity]
