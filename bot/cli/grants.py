"""Granting and removing a role at one of the three levels (项目 / 区域 / 公司), with the rules
that keep one grant per person, role and site:

- a role already covered from a higher level (the site's region, or the company) is not
  granted again lower down: refused, naming where it is held;
- a role granted at a higher level replaces the same role held lower down, below it (a
  项目经理 made 区域经理 keeps one grant, the region's);
- removing a manager (or moving a site to another region) that would leave a site with
  undecided extension requests and no manager at all is refused: nobody could decide them
  (grant the successor first).

A site moved into a region where someone already holds the role can leave a second, narrower
grant behind; it is harmless (the person holds the role there either way) and removable.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.cli.common import CliError
from bot.flows.access import role_name
from storage.db import Tx
from storage.records import Person, Region, Role, RoleGrant, Site

LEVELS = {"项目": "site", "区域": "region", "公司": "company"}
"""The level column of a staff sheet: its words and what they mean."""


@dataclass(frozen=True)
class Scope:
    """Where a role is held: a site, a region, or (neither) the whole company."""

    site: Site | None = None
    region: Region | None = None

    @property
    def site_id(self) -> int | None:
        return self.site.id if self.site is not None else None

    @property
    def region_id(self) -> int | None:
        return self.region.id if self.region is not None else None

    def label(self) -> str:
        if self.site is not None:
            return f"项目 {self.site.name}"
        if self.region is not None:
            return f"{self.region.name}区域（所有项目）"
        return "全公司"

    def audit(self) -> dict[str, int | str | None]:
        level = "site" if self.site else "region" if self.region else "company"
        return {"level": level, "site": self.site_id, "region": self.region_id}


async def scope_of(tx: Tx, grant: RoleGrant) -> Scope:
    site = await tx.sites.get(grant.site_id) if grant.site_id is not None else None
    region = await tx.regions.get(grant.region_id) if grant.region_id is not None else None
    return Scope(site=site, region=region)


async def _below(tx: Tx, grant: RoleGrant, scope: Scope) -> bool:
    """Whether the grant is held strictly below the scope."""
    if scope.site is not None or grant.company_wide:
        return False
    if scope.region is None:
        return True
    if grant.site_id is None:
        return False
    site = await tx.sites.get(grant.site_id)
    return site is not None and site.region_id == scope.region_id


def _above(grant: RoleGrant, scope: Scope) -> bool:
    """Whether the grant is held strictly above the scope (and so covers it)."""
    if grant.company_wide:
        return scope.site is not None or scope.region is not None
    if grant.region_id is None or scope.site is None:
        return False
    return scope.site.region_id == grant.region_id


async def grant_role(
    tx: Tx, person: Person, role: Role, scope: Scope, *, covered_ok: bool = False
) -> tuple[RoleGrant | None, list[Scope]]:
    """Grant the role at the scope; returns the grant (None: already covered from above and
    `covered_ok`) and the scopes of the narrower grants it replaced. Raises CliError for a
    role already held there or covered from above (unless `covered_ok`)."""
    held = [g for g in await tx.roles.for_person(person.id) if g.role is role]
    label = role_name(role)
    for grant in held:
        if (grant.site_id, grant.region_id) == (scope.site_id, scope.region_id):
            if covered_ok:
                return None, []
            raise CliError(f"{person.name} 已是{scope.label()}的{label} (role already held)")
        if _above(grant, scope):
            if covered_ok:
                return None, []
            above = (await scope_of(tx, grant)).label()
            raise CliError(
                f"{person.name} 已在{above}担任{label}，已覆盖{scope.label()}"
                " (already held at a higher level)"
            )
    replaced = []
    for grant in held:
        if await _below(tx, grant, scope):
            await tx.roles.revoke(person.id, grant.site_id, role, region_id=grant.region_id)
            replaced.append(await scope_of(tx, grant))
    granted = await tx.roles.grant(person.id, scope.site_id, role, region_id=scope.region_id)
    return granted, replaced


async def remove_role(tx: Tx, person: Person, role: Role, scope: Scope) -> None:
    """Remove the role held at exactly that scope; raises CliError (before anything is
    kept) when it is not held there, or when a site would be left with extension requests
    that no manager could decide."""
    label = role_name(role)
    if not await tx.roles.revoke(person.id, scope.site_id, role, region_id=scope.region_id):
        elsewhere = [
            (await scope_of(tx, g)).label()
            for g in await tx.roles.for_person(person.id)
            if g.role is role
        ]
        where = f"（其{label}角色在：{'、'.join(elsewhere)}）" if elsewhere else ""
        raise CliError(f"{person.name} 不是{scope.label()}的{label}{where} (role not held there)")
    if role is Role.MANAGER:
        await keep_extensions_decidable(tx, scope)


async def keep_extensions_decidable(tx: Tx, scope: Scope) -> None:
    """Raise CliError when a site of the scope has undecided extension requests and no
    manager at any level (call it after the change, inside the transaction)."""
    if scope.site is not None:
        sites = [scope.site]
    elif scope.region is not None:
        sites = await tx.sites.in_region(scope.region.id)
    else:
        sites = await tx.sites.all()
    for site in sites:
        if await tx.roles.people_with_role(site.id, Role.MANAGER):
            continue
        pending = await tx.tasks.pending_extensions([site.id])
        if pending:
            raise CliError(
                f"未更改：{site.name} 还有 {len(pending)} 个待审批的延期申请，"
                "移除后将没有经理审批；请先给其他人授予经理角色"
                " (would leave pending extension requests undecidable)"
            )
