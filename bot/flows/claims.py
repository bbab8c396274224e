"""Claiming a scheduled job's run for a period (storage job_runs), the one rule behind the
weekly digest and the monthly 通报: a period is done once, whatever the number of processes;
a period that fell due while the bot was down is done when it is back; but a database the job
never ran on (a new installation) only records the latest period, so the bot's first start
does not send what was due before it existed."""

from __future__ import annotations

from storage.db import Tx


async def claim_run(tx: Tx, job: str, period: str) -> bool:
    """Claim the period in this transaction; True when the job's work is to be done in it."""
    first = not await tx.jobs.ever(job)
    return await tx.jobs.claim(job, period) and not first
