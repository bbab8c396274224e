"""Finding the site, region or person a CLI argument names (by name or by id)."""

from __future__ import annotations

from bot.cli.common import CliError
from storage.db import Tx
from storage.records import Person, Region, Site


async def find_site(tx: Tx, ref: str) -> Site:
    site = await tx.sites.get(int(ref)) if ref.isdigit() else None
    site = site or await tx.sites.by_name(ref)
    if site is None:
        raise CliError(f"没有这个项目 unknown site: {ref}（先用 pinjian site add 新建）")
    return site


async def find_person(tx: Tx, ref: str) -> Person:
    """An active person by name or id; people who left stay in the records, inactive, and
    are not found (a namesake who left makes no name ambiguous)."""
    if ref.lstrip("#").isdigit():
        person = await tx.people.get(int(ref.lstrip("#")))
        if person is None:
            raise CliError(f"没有编号为 {ref} 的人员 (unknown person id)")
        if not person.active:
            raise CliError(f"#{person.id} {person.name} 已停用 (deactivated)")
        return person
    named = await tx.people.find_by_name(ref)
    matches = [person for person in named if person.active]
    if not matches:
        if named:
            raise CliError(f"{ref} 已停用 (deactivated)")
        raise CliError(f"没有名为 {ref} 的人员 (unknown person)")
    if len(matches) > 1:
        ids = ", ".join(f"{p.id}（{p.phone or '无手机号'}）" for p in matches)
        raise CliError(
            f"有 {len(matches)} 人名为 {ref}，请改用编号: {ids} (ambiguous name; use the id)"
        )
    return matches[0]


async def find_region(tx: Tx, ref: str) -> Region:
    region = await tx.regions.get(int(ref)) if ref.isdigit() else None
    region = region or await tx.regions.by_name(ref)
    if region is None or not region.active:
        raise CliError(f"没有这个区域 unknown region: {ref}（先用 pinjian region add 新建）")
    return region
