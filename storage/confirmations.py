"""The site's sign-off of submitted inspections (项目确认) and appeals against findings.

Every change that can race is a conditional UPDATE: the signature is set only where none is
(a manager's 确认 against the window's 逾期自动确认), a decision only on an undecided appeal
(two deciders at once: one wins, the other gets None), the reminder only once. The stored
`status` is settled after each change from the signature and the undecided appeals.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from storage.base import Repo, to_record, to_records
from storage.errors import StateConflict
from storage.records import (
    Appeal,
    AppealDecision,
    Confirmation,
    ConfirmHow,
    ResultStatus,
)
from storage.tables import appeals, confirmations


class ConfirmationRepo(Repo):
    __slots__ = ()

    async def open(
        self, inspection_id: int, site_id: int, *, deadline: datetime, remind_at: datetime
    ) -> Confirmation:
        """The result waits for the site (待确认) until `deadline`."""
        row = await self._insert(
            confirmations,
            {
                "inspection_id": inspection_id,
                "site_id": site_id,
                "status": ResultStatus.PENDING,
                "deadline": deadline,
                "remind_at": remind_at,
                "reminded_at": None,
                "how": None,
                "confirmed_by": None,
                "confirmed_at": None,
                "created_at": self._now(),
            },
        )
        return to_record(Confirmation, row)

    async def get(self, inspection_id: int) -> Confirmation | None:
        rows = await self._rows_by(confirmations, "inspection_id", inspection_id, ())
        return to_record(Confirmation, rows[0]) if rows else None

    async def statuses(self, inspection_ids: Iterable[int]) -> dict[int, ResultStatus]:
        """The result status of each inspection (for the 通报 and KPIs); an inspection
        submitted before 项目确认 existed has no row and counts as confirmed."""
        ids = list(inspection_ids)
        found: dict[int, ResultStatus] = dict.fromkeys(ids, ResultStatus.CONFIRMED)
        if not ids:
            return found
        stmt = sa.select(confirmations.c.inspection_id, confirmations.c.status).where(
            confirmations.c.inspection_id.in_(ids)
        )
        for inspection_id, status in await self._all(stmt):
            found[inspection_id] = status
        return found

    async def sign(
        self, inspection_id: int, how: ConfirmHow, *, by: int | None, at: datetime
    ) -> Confirmation | None:
        """The 项目负责人's signature (确认, or 逾期自动确认 at the deadline); None when the
        result was signed already."""
        row = await self._update(
            confirmations,
            (confirmations.c.inspection_id == inspection_id) & confirmations.c.how.is_(None),
            {"how": how, "confirmed_by": by, "confirmed_at": at},
        )
        if row is None:
            return None
        return await self.settle(inspection_id)

    async def due(self, now: datetime, *, limit: int = 500) -> list[Confirmation]:
        """Unsigned results whose window has closed."""
        stmt = (
            sa.select(confirmations)
            .where(confirmations.c.how.is_(None), confirmations.c.deadline <= now)
            .order_by(confirmations.c.deadline)
            .limit(limit)
        )
        return to_records(Confirmation, await self._all(stmt))

    async def due_reminders(self, now: datetime, *, limit: int = 500) -> list[Confirmation]:
        stmt = (
            sa.select(confirmations)
            .where(
                confirmations.c.how.is_(None),
                confirmations.c.reminded_at.is_(None),
                confirmations.c.remind_at <= now,
                confirmations.c.deadline > now,
            )
            .order_by(confirmations.c.remind_at)
            .limit(limit)
        )
        return to_records(Confirmation, await self._all(stmt))

    async def mark_reminded(self, inspection_id: int) -> bool:
        """Claim the one reminder; False if it went already."""
        row = await self._update(
            confirmations,
            (confirmations.c.inspection_id == inspection_id)
            & confirmations.c.reminded_at.is_(None),
            {"reminded_at": self._now()},
        )
        return row is not None

    async def settle(self, inspection_id: int) -> Confirmation:
        """Store the status the signature and the undecided appeals make."""
        open_count = await self._conn.scalar(
            sa.select(sa.func.count()).where(
                appeals.c.inspection_id == inspection_id, appeals.c.decision.is_(None)
            )
        )
        current = await self.get(inspection_id)
        if current is None:
            raise StateConflict(f"inspection {inspection_id} has no confirmation")
        if open_count:
            status = ResultStatus.APPEALED
        elif current.how is not None:
            status = ResultStatus.CONFIRMED
        else:
            status = ResultStatus.PENDING
        if status is current.status:
            return current
        row = await self._update(
            confirmations, confirmations.c.inspection_id == inspection_id, {"status": status}
        )
        assert row is not None
        return to_record(Confirmation, row)

    async def file_appeal(
        self,
        inspection_id: int,
        item_no: int,
        *,
        reason: str,
        filed_by: int,
        score_before: float | None,
    ) -> Appeal:
        """An appeal against the item's finding; StateConflict if the item has one already."""
        exists = await self._conn.scalar(
            sa.select(appeals.c.id).where(
                appeals.c.inspection_id == inspection_id, appeals.c.item_no == item_no
            )
        )
        if exists is not None:
            raise StateConflict(f"item {item_no} of inspection {inspection_id} was appealed")
        row = await self._insert(
            appeals,
            {
                "inspection_id": inspection_id,
                "item_no": item_no,
                "reason": reason,
                "filed_by": filed_by,
                "filed_at": self._now(),
                "decision": None,
                "decided_by": None,
                "decided_at": None,
                "decision_reason": None,
                "score_before": score_before,
                "score_after": None,
                "label_after": None,
            },
        )
        await self.settle(inspection_id)
        return to_record(Appeal, row)

    async def decide(
        self,
        appeal_id: int,
        decision: AppealDecision,
        *,
        decided_by: int,
        reason: str | None,
        score_after: float | None,
        label_after: str | None,
    ) -> Appeal | None:
        """Record the decision; None if the appeal was decided already (by someone else)."""
        values: dict[str, Any] = {
            "decision": decision,
            "decided_by": decided_by,
            "decided_at": self._now(),
            "decision_reason": reason,
            "score_after": score_after,
            "label_after": label_after,
        }
        row = await self._update(
            appeals, (appeals.c.id == appeal_id) & appeals.c.decision.is_(None), values
        )
        if row is None:
            return None
        appeal = to_record(Appeal, row)
        await self.settle(appeal.inspection_id)
        return appeal

    async def appeal(self, appeal_id: int) -> Appeal | None:
        row = await self._one(sa.select(appeals).where(appeals.c.id == appeal_id))
        return to_record(Appeal, row) if row else None

    async def appeals(self, inspection_id: int) -> list[Appeal]:
        """The inspection's appeals by item."""
        stmt = (
            sa.select(appeals)
            .where(appeals.c.inspection_id == inspection_id)
            .order_by(appeals.c.item_no)
        )
        return to_records(Appeal, await self._all(stmt))

    async def open_appeal(self, inspection_id: int, item_no: int) -> Appeal | None:
        """The item's undecided appeal, if any (its task shows 申诉中, its reminders wait)."""
        result = await self._run(
            "appeals.open",
            lambda: sa.select(appeals).where(
                appeals.c.inspection_id == sa.bindparam("b_inspection"),
                appeals.c.item_no == sa.bindparam("b_item"),
                appeals.c.decision.is_(None),
            ),
            {"b_inspection": inspection_id, "b_item": item_no},
        )
        row = result.one_or_none()
        return to_record(Appeal, row) if row else None
