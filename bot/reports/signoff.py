"""The sign-off block of the Excel and PDF reports, as lines of text (one wording for both)."""

from __future__ import annotations

from bot.core.texts import plain
from bot.reports.model import SignOff
from storage.records import ConfirmHow


def heading(signoff: SignOff) -> str:
    return plain("signoff", "heading", revision=signoff.revision)


def lines(signoff: SignOff) -> list[str]:
    if signoff.how == ConfirmHow.AUTO.label:
        responsible = plain("signoff", "auto_confirmed", confirmed=signoff.confirmed)
    elif signoff.confirmed:
        responsible = plain(
            "signoff", "confirmed", name=signoff.responsible, confirmed=signoff.confirmed
        )
    else:
        responsible = plain("signoff", "pending", deadline=signoff.deadline)
    return [
        plain("signoff", "inspector", name=signoff.inspector, submitted=signoff.submitted),
        responsible,
        plain("signoff", "status", status=signoff.status),
        *(plain("signoff", "appeal", a=a) for a in signoff.appeals),
    ]
