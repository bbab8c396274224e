"""Claims of scheduled jobs (job_runs): a job's run for a period happens once."""

from __future__ import annotations

from storage.base import Repo
from storage.tables import job_runs


class JobRunRepo(Repo):
    __slots__ = ()

    async def claim(self, job: str, period: str) -> bool:
        """Claim the job's run for the period; False if it was claimed before (by this or any
        other process). Do the job's work in the same transaction: a rollback frees the
        claim, and a concurrent claim waits for this one (unique key or write lock)."""
        result = await self._run(
            ("jobs.claim", self._ctx.dialect),
            lambda: self._dialect_insert(job_runs).on_conflict_do_nothing(
                index_elements=["job", "period"]
            ),
            {"job": job, "period": period, "claimed_at": self._now()},
        )
        return result.rowcount == 1

    async def claimed(self, job: str, period: str) -> bool:
        row = await self._one(
            job_runs.select().where(job_runs.c.job == job, job_runs.c.period == period)
        )
        return row is not None

    async def ever(self, job: str) -> bool:
        """Whether the job has claimed any period yet."""
        row = await self._one(job_runs.select().where(job_runs.c.job == job).limit(1))
        return row is not None
