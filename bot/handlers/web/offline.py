"""What the page keeps to go on inspecting without a connection: the person's open inspections
with their pinned standard, each item's buttons and its answer as the server has it.

The page answers offline from this and queues the answers as `Q:` payloads (bot.flows.queued),
so the labels here are the very labels of the flows' item buttons.
"""

from __future__ import annotations

from typing import Any

from bot.flows.inspection_view import item_buttons, loaded_with_progress
from bot.flows.queued import answer_code
from standards.pinned import pinned
from storage.db import Tx


async def open_inspections(tx: Tx, person_id: int) -> list[dict[str, Any]]:
    """The person's in-progress and paused inspections, as the page answers them offline."""
    result = []
    for inspection in await tx.inspections.open_for_inspector(person_id):
        stored = await tx.standards.get(inspection.standard_id)
        site = await tx.sites.get(inspection.site_id)
        if stored is None or site is None:
            continue
        progress = await tx.inspections.progress(inspection.id)
        loaded = loaded_with_progress(inspection, pinned(stored), site, progress)
        items = loaded.standard.items
        result.append(
            {
                "id": inspection.id,
                "site": site.name,
                "title": loaded.standard.title,
                "items": [
                    {
                        "no": item.no,
                        "section": loaded.standard.section_of(item.no).heading,
                        "content": item.content,
                        "method": item.method,
                        "levels": [
                            row[0].text
                            for row in item_buttons(loaded, item, 0, False)[: len(item.levels)]
                        ],
                        "answer": answer_code(item, loaded.answers.get(item.no)),
                        "pending": loaded.needs_work(item),
                    }
                    for item in items
                ],
            }
        )
    return result
