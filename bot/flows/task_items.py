"""The standard item a rectification task came from: every text about a task names it."""

from __future__ import annotations

from standards.pinned import pinned
from standards.schema import Item
from storage.db import Tx
from storage.records import StoredStandard, Task


class TaskItems:
    """Items of tasks for one transaction: each inspection and pinned standard read once."""

    __slots__ = ("_inspections", "_standards", "_tx")

    def __init__(self, tx: Tx, standards: dict[int, StoredStandard] | None = None) -> None:
        self._tx = tx
        self._standards = standards if standards is not None else {}
        self._inspections: dict[int, int | None] = {}

    async def of(self, task: Task) -> Item | None:
        if task.inspection_id is None or task.item_no is None:
            return None
        if task.inspection_id not in self._inspections:
            inspection = await self._tx.inspections.get(task.inspection_id)
            self._inspections[task.inspection_id] = inspection.standard_id if inspection else None
        standard_id = self._inspections[task.inspection_id]
        if standard_id is None:
            return None
        stored = self._standards.get(standard_id)
        if stored is None:
            stored = await self._tx.standards.get(standard_id)
            if stored is None:
                return None
            self._standards[standard_id] = stored
        try:
            return pinned(stored).item(task.item_no)
        except KeyError:
            return None
