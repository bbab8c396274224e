"""Scheduled jobs claim their period once, whatever the number of processes (both dialects)."""

from __future__ import annotations

import asyncio

from storage.db import Database
from tests.storage.conftest import Urls


async def test_a_period_is_claimed_once(db: Database) -> None:
    async with db.transaction() as tx:
        assert await tx.jobs.claim("monthly-bulletin", "2026-11")
        assert not await tx.jobs.claim("monthly-bulletin", "2026-11")
        assert await tx.jobs.claim("monthly-bulletin", "2026-12")
        assert await tx.jobs.claim("weekly-digest", "2026-11")
    async with db.read() as tx:
        assert await tx.jobs.claimed("monthly-bulletin", "2026-11")
        assert not await tx.jobs.claimed("monthly-bulletin", "2027-01")
    async with db.transaction() as tx:
        assert not await tx.jobs.claim("monthly-bulletin", "2026-11")


async def test_a_rolled_back_claim_is_free_again(db: Database) -> None:
    class Failed(Exception):
        pass

    try:
        async with db.transaction() as tx:
            assert await tx.jobs.claim("weekly-digest", "2026-W49")
            raise Failed
    except Failed:
        pass
    async with db.transaction() as tx:
        assert await tx.jobs.claim("weekly-digest", "2026-W49")


async def test_concurrent_claims_from_two_connections(db_url: str, urls: Urls) -> None:
    first, second = Database(db_url), Database(db_url)
    await first.open()
    await second.open()
    try:

        async def claim(db: Database) -> bool:
            async with db.transaction() as tx:
                won = await tx.jobs.claim("monthly-bulletin", "2026-11")
                await asyncio.sleep(0.05)
                return won

        results = await asyncio.gather(*(claim(d) for d in (first, second, first, second)))
    finally:
        await first.close()
        await second.close()
    assert sorted(results) == [False, False, False, True]
