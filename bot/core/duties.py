"""Separation of duties: the rules that hold whatever roles one person has at a site.

Roles are per site and one person may hold several (a 项目经理 who is also a 责任人, an
inspector who is also on the site's staff). These rules are the only place that decides:
- nobody decides (批准/驳回) their own extension request;
- nobody verifies (通过/退回) a task of which they are the 责任人, or a fix they submitted;
- nobody decides (维持/改判/撤销) an appeal they filed, nor one about a site where they are
  项目经理 themselves;
- an inspector assigns a task to themself only where the company setting
  `inspector_self_assign` allows it (default: no; `bot.core.company_settings`).
"""

from __future__ import annotations


def may_verify(
    person_id: int,
    *,
    responsible_id: int | None,
    created_by: int | None,
    submitted_by: int | None,
    is_site_manager: bool,
) -> bool:
    """The inspector who created the task or a manager of its site, but never the task's
    责任人 nor whoever submitted the fix."""
    if person_id in (responsible_id, submitted_by):
        return False
    return person_id == created_by or is_site_manager


def may_withdraw(person_id: int, *, created_by: int | None, is_site_manager: bool) -> bool:
    """Withdrawing a task whose item's answer was raised: the inspector who created it (whose
    answer changed) or a manager of its site."""
    return person_id == created_by or is_site_manager


def may_decide_extension(person_id: int, *, requested_by: int, is_site_manager: bool) -> bool:
    """A manager of the task's site who did not ask for the extension."""
    return is_site_manager and person_id != requested_by


def may_assign(inspector_id: int, responsible_id: int, *, self_assign_allowed: bool) -> bool:
    """Anyone of the site's staff but the inspector themself, unless the company allows it."""
    return responsible_id != inspector_id or self_assign_allowed


def may_decide_appeal(
    person_id: int,
    *,
    filed_by: int,
    is_inspector: bool,
    is_manager_above: bool,
    is_site_manager: bool,
) -> bool:
    """The inspector of the inspection or a manager one level up from its site, but never
    whoever filed the appeal nor a 项目经理 of the inspected site itself."""
    if person_id == filed_by or is_site_manager:
        return False
    return is_inspector or is_manager_above
