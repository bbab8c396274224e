"""Regions, sites, people, their roles, channel identities and invites.

A role is held at a site, at a region (all its sites, present and future) or company-wide;
:func:`covers` is the one place that says which sites a role row reaches, and every question
about who holds a role at a site (or where a person holds one) goes through it."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from storage.base import Repo, split_row, to_record, to_records
from storage.errors import IdentityInUse, NotFound, StateConflict
from storage.records import (
    Channel,
    Conversation,
    Identity,
    Invite,
    InviteProblem,
    JsonDict,
    Person,
    Redemption,
    Region,
    Role,
    RoleGrant,
    Site,
)
from storage.tables import conversations, identities, invites, people, regions, roles, sites


def covers() -> sa.ColumnElement[bool]:
    """Whether the `roles` row covers the `sites` row: held at that site, at the site's
    region, or company-wide."""
    return sa.or_(
        roles.c.site_id == sites.c.id,
        roles.c.region_id == sites.c.region_id,
        sa.and_(roles.c.site_id.is_(None), roles.c.region_id.is_(None)),
    )


def web_external_id(token: str) -> str:
    """The external_id stored for a web login token: its sha256, never the token itself."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class RegionRepo(Repo):
    __slots__ = ()

    async def create(self, name: str) -> Region:
        row = await self._insert(regions, {"name": name, "active": True, "created_at": self._now()})
        return to_record(Region, row)

    async def get(self, region_id: int) -> Region | None:
        row = await self._by_id(regions, region_id)
        return to_record(Region, row) if row else None

    async def by_name(self, name: str) -> Region | None:
        row = await self._one(sa.select(regions).where(regions.c.name == name))
        return to_record(Region, row) if row else None

    async def all(self) -> list[Region]:
        stmt = sa.select(regions).where(regions.c.active.is_(True)).order_by(regions.c.name)
        return to_records(Region, await self._all(stmt))


class SiteRepo(Repo):
    __slots__ = ()

    async def create(
        self,
        name: str,
        *,
        timezone: str,
        address: str = "",
        quiet_start: str = "21:00",
        quiet_end: str = "08:00",
        settings: JsonDict | None = None,
        region_id: int | None = None,
    ) -> Site:
        row = await self._insert(
            sites,
            {
                "name": name,
                "address": address,
                "timezone": timezone,
                "quiet_start": quiet_start,
                "quiet_end": quiet_end,
                "settings": settings or {},
                "active": True,
                "created_at": self._now(),
                "region_id": region_id,
            },
        )
        return to_record(Site, row)

    async def in_region(self, region_id: int) -> list[Site]:
        """The region's active sites, by name."""
        stmt = (
            sa.select(sites)
            .where(sites.c.region_id == region_id, sites.c.active.is_(True))
            .order_by(sites.c.name)
        )
        return to_records(Site, await self._all(stmt))

    async def set_region(self, site_id: int, region_id: int | None) -> Site:
        """Move the site into the region (None: into no region); it is in one at most."""
        row = await self._update_by_id(sites, site_id, {"region_id": region_id})
        if row is None:
            raise NotFound(f"site {site_id}")
        return to_record(Site, row)

    async def set_position(self, site_id: int, position: tuple[float, float] | None) -> Site:
        """Where the site is (latitude, longitude in degrees); None: not known."""
        latitude, longitude = position if position else (None, None)
        values = {"latitude": latitude, "longitude": longitude}
        row = await self._update_by_id(sites, site_id, values)
        if row is None:
            raise NotFound(f"site {site_id}")
        return to_record(Site, row)

    async def get(self, site_id: int) -> Site | None:
        row = await self._by_id(sites, site_id)
        return to_record(Site, row) if row else None

    async def by_name(self, name: str) -> Site | None:
        row = await self._one(sa.select(sites).where(sites.c.name == name))
        return to_record(Site, row) if row else None

    async def get_many(self, site_ids: Iterable[int]) -> list[Site]:
        stmt = sa.select(sites).where(sites.c.id.in_(list(site_ids))).order_by(sites.c.id)
        return to_records(Site, await self._all(stmt))

    async def all(self, *, include_inactive: bool = False) -> list[Site]:
        stmt = sa.select(sites).order_by(sites.c.name)
        if not include_inactive:
            stmt = stmt.where(sites.c.active.is_(True))
        return to_records(Site, await self._all(stmt))

    async def update(
        self,
        site_id: int,
        *,
        name: str | None = None,
        address: str | None = None,
        timezone: str | None = None,
        quiet_start: str | None = None,
        quiet_end: str | None = None,
        settings: JsonDict | None = None,
        active: bool | None = None,
    ) -> Site:
        """Change the given fields; None leaves a field as it is."""
        given: dict[str, Any] = {
            "name": name,
            "address": address,
            "timezone": timezone,
            "quiet_start": quiet_start,
            "quiet_end": quiet_end,
            "settings": settings,
            "active": active,
        }
        values = {key: value for key, value in given.items() if value is not None}
        row = await self._update_by_id(sites, site_id, values)
        if row is None:
            raise NotFound(f"site {site_id}")
        return to_record(Site, row)


class PersonRepo(Repo):
    __slots__ = ()

    async def create(
        self, name: str, *, phone: str | None = None, is_admin: bool = False
    ) -> Person:
        row = await self._insert(
            people,
            {
                "name": name,
                "phone": phone,
                "active": True,
                "is_admin": is_admin,
                "created_at": self._now(),
            },
        )
        return to_record(Person, row)

    async def get(self, person_id: int) -> Person | None:
        row = await self._by_id(people, person_id)
        return to_record(Person, row) if row else None

    async def get_many(self, person_ids: Iterable[int]) -> list[Person]:
        stmt = sa.select(people).where(people.c.id.in_(list(person_ids))).order_by(people.c.id)
        return to_records(Person, await self._all(stmt))

    async def find_by_name(self, name: str) -> list[Person]:
        """Every person with exactly this name; names are not unique."""
        stmt = sa.select(people).where(people.c.name == name).order_by(people.c.id)
        return to_records(Person, await self._all(stmt))

    async def by_phone(self, phone: str) -> list[Person]:
        """The active people with this phone number (one, normally)."""
        stmt = (
            sa.select(people)
            .where(people.c.phone == phone, people.c.active.is_(True))
            .order_by(people.c.id)
        )
        return to_records(Person, await self._all(stmt))

    async def all(self, *, include_inactive: bool = False) -> list[Person]:
        stmt = sa.select(people).order_by(people.c.name, people.c.id)
        if not include_inactive:
            stmt = stmt.where(people.c.active.is_(True))
        return to_records(Person, await self._all(stmt))

    async def admins(self) -> list[Person]:
        result = await self._run(
            "people.admins",
            lambda: (
                sa.select(people)
                .where(people.c.is_admin.is_(True), people.c.active.is_(True))
                .order_by(people.c.id)
            ),
            {},
        )
        return to_records(Person, result.all())

    async def update(
        self,
        person_id: int,
        *,
        name: str | None = None,
        phone: str | None = None,
        is_admin: bool | None = None,
        active: bool | None = None,
    ) -> Person:
        """Change the given fields; None leaves a field as it is."""
        given: dict[str, Any] = {
            "name": name,
            "phone": phone,
            "is_admin": is_admin,
            "active": active,
        }
        values = {key: value for key, value in given.items() if value is not None}
        row = await self._update_by_id(people, person_id, values)
        if row is None:
            raise NotFound(f"person {person_id}")
        return to_record(Person, row)


class RoleRepo(Repo):
    """Role grants, and through :func:`covers` the roles effective at a site."""

    __slots__ = ()

    async def grant(
        self, person_id: int, site_id: int | None, role: Role, *, region_id: int | None = None
    ) -> RoleGrant:
        """Give the role at the site, at the region, or (neither) company-wide (again);
        granting an existing active role changes nothing."""
        existing = await self._one(
            sa.select(roles).where(_held(person_id, site_id, region_id, role))
        )
        if existing is None:
            row = await self._insert(
                roles,
                {
                    "person_id": person_id,
                    "site_id": site_id,
                    "region_id": region_id,
                    "role": role,
                    "active": True,
                    "created_at": self._now(),
                },
            )
            return to_record(RoleGrant, row)
        if existing.active:
            return to_record(RoleGrant, existing)
        updated = await self._update_by_id(roles, existing.id, {"active": True})
        assert updated is not None
        return to_record(RoleGrant, updated)

    async def revoke(
        self, person_id: int, site_id: int | None, role: Role, *, region_id: int | None = None
    ) -> bool:
        """Deactivate the role held at exactly that level; returns whether it was active."""
        stmt = (
            sa.update(roles)
            .where(_held(person_id, site_id, region_id, role), roles.c.active.is_(True))
            .values(active=False)
        )
        return (await self._conn.execute(stmt)).rowcount > 0

    async def for_person(self, person_id: int) -> list[RoleGrant]:
        """The person's active grants, at whatever level they are held."""
        stmt = (
            sa.select(roles)
            .where(roles.c.person_id == person_id, roles.c.active.is_(True))
            .order_by(roles.c.site_id, roles.c.region_id, roles.c.role)
        )
        return to_records(RoleGrant, await self._all(stmt))

    async def grants_of(self, role: Role) -> list[RoleGrant]:
        """Every active grant of the role, at whatever level, by person (who gets what a
        level is sent: the company's managers, each region's)."""
        stmt = (
            sa.select(roles)
            .where(roles.c.role == role, roles.c.active.is_(True))
            .order_by(roles.c.person_id, roles.c.id)
        )
        return to_records(RoleGrant, await self._all(stmt))

    async def has(self, person_id: int, site_id: int, role: Role) -> bool:
        """Whether the person holds the role at the site, or at its region, or company-wide."""
        result = await self._run(
            "roles.has",
            lambda: (
                sa.select(roles.c.id)
                .join(sites, covers())
                .where(
                    roles.c.person_id == sa.bindparam("b_person"),
                    roles.c.role == sa.bindparam("b_role"),
                    roles.c.active.is_(True),
                    sites.c.id == sa.bindparam("b_site"),
                )
                .limit(1)
            ),
            {"b_person": person_id, "b_role": role, "b_site": site_id},
        )
        return result.one_or_none() is not None

    async def sites_with_role(self, person_id: int, role: Role) -> list[Site]:
        """Active sites where the person holds the role (at the site, its region or the
        whole company), by name."""
        reached = (
            sa.select(sites.c.id)
            .select_from(roles)
            .join(sites, covers())
            .where(
                roles.c.person_id == person_id,
                roles.c.role == role,
                roles.c.active.is_(True),
            )
        )
        listed = sites.alias("listed")
        stmt = (
            sa.select(listed)
            .where(listed.c.active.is_(True), listed.c.id.in_(reached))
            .order_by(listed.c.name)
        )
        return to_records(Site, await self._all(stmt))

    async def people_with_role(self, site_id: int, role: Role) -> list[Person]:
        """Active people holding the role at the site (there, at its region or company-wide),
        by name."""
        result = await self._run(
            "people.with_role",
            lambda: (
                sa.select(people)
                .where(
                    people.c.active.is_(True),
                    people.c.id.in_(
                        sa.select(roles.c.person_id)
                        .join(sites, covers())
                        .where(
                            sites.c.id == sa.bindparam("b_site"),
                            roles.c.role == sa.bindparam("b_role"),
                            roles.c.active.is_(True),
                        )
                    ),
                )
                .order_by(people.c.name, people.c.id)
            ),
            {"b_site": site_id, "b_role": role},
        )
        return to_records(Person, result.all())

    async def held_at(
        self, role: Role, *, site_id: int | None = None, region_id: int | None = None
    ) -> list[Person]:
        """Active people granted the role at exactly this level: at the site, at the region,
        or (neither) company-wide; by name."""
        if site_id is not None and region_id is not None:
            raise StateConflict("a role is held at a site or at a region, not both")
        params: dict[str, Any] = {"b_role": role}
        if site_id is not None:
            params["b_site"] = site_id
        if region_id is not None:
            params["b_region"] = region_id
        at_site, at_region = site_id is not None, region_id is not None
        result = await self._run(
            ("roles.held_at", at_site, at_region), lambda: _held_at(at_site, at_region), params
        )
        return to_records(Person, result.all())


def _held_at(at_site: bool, at_region: bool) -> sa.Select[Any]:
    """Active people granted b_role at exactly one level: the site b_site (`at_site`), the
    region b_region (`at_region`), or company-wide (neither); by name."""
    site, region = roles.c.site_id, roles.c.region_id
    granted = sa.select(roles.c.person_id).where(
        roles.c.role == sa.bindparam("b_role"),
        roles.c.active.is_(True),
        site == sa.bindparam("b_site") if at_site else site.is_(None),
        region == sa.bindparam("b_region") if at_region else region.is_(None),
    )
    return (
        sa.select(people)
        .where(people.c.active.is_(True), people.c.id.in_(granted))
        .order_by(people.c.name, people.c.id)
    )


def _held(
    person_id: int, site_id: int | None, region_id: int | None, role: Role
) -> sa.ColumnElement[bool]:
    """The grant of exactly this level: at the site, at the region, or company-wide."""
    if site_id is not None and region_id is not None:
        raise StateConflict("a role is held at a site or at a region, not both")
    return sa.and_(
        roles.c.person_id == person_id,
        roles.c.role == role,
        roles.c.site_id.is_(None) if site_id is None else roles.c.site_id == site_id,
        roles.c.region_id.is_(None) if region_id is None else roles.c.region_id == region_id,
    )


class IdentityRepo(Repo):
    __slots__ = ()

    async def bind(
        self,
        person_id: int,
        channel: Channel,
        external_id: str,
        *,
        chat_id: str | None = None,
        display_name: str | None = None,
    ) -> Identity:
        """Bind a channel account to a person.

        Binding the same account to the same person again refreshes chat and name; an account
        bound to someone else raises IdentityInUse (revoke it first).
        """
        current = await self._active(channel, external_id)
        if current is not None:
            if current.person_id != person_id:
                raise IdentityInUse(f"{channel} account is bound to another person")
            row = await self._update_by_id(
                identities,
                current.id,
                {
                    "chat_id": chat_id or current.chat_id,
                    "display_name": display_name or current.display_name,
                },
            )
            assert row is not None
            return to_record(Identity, row)
        row = await self._insert(
            identities,
            {
                "person_id": person_id,
                "channel": channel,
                "external_id": external_id,
                "chat_id": chat_id,
                "display_name": display_name,
                "bound_at": self._now(),
                "revoked_at": None,
            },
        )
        return to_record(Identity, row)

    async def _active(self, channel: Channel, external_id: str) -> Identity | None:
        stmt = sa.select(identities).where(
            identities.c.channel == channel,
            identities.c.external_id == external_id,
            identities.c.revoked_at.is_(None),
        )
        row = await self._one(stmt)
        return to_record(Identity, row) if row else None

    async def resolve(self, channel: Channel, external_id: str) -> tuple[Identity, Person] | None:
        """The active binding of a channel account and its (active) person, in one query."""
        params = {"b_channel": channel, "b_external": external_id}
        result = await self._run(
            "identities.resolve",
            lambda: _resolving(sa.select(identities, people), identities.join(people, _person)),
            params,
        )
        row = result.one_or_none()
        if row is None:
            return None
        identity, person = split_row(row, identities, people)
        return Identity(**identity), Person(**person)

    async def resolve_in_chat(
        self, channel: Channel, external_id: str, chat_id: str
    ) -> tuple[Identity, Person, Conversation | None] | None:
        """:meth:`resolve`, with the person's conversation in the chat (None: not started),
        in one query: every event reads all three (for the N = 50 capacity and PostgreSQL
        p99 goals, docs/BENCHMARKS.md)."""
        params = {"b_channel": channel, "b_external": external_id, "b_chat": chat_id}
        result = await self._run("identities.resolve_in_chat", _resolving_in_chat, params)
        row = result.one_or_none()
        if row is None:
            return None
        identity, person, conversation = split_row(row, identities, people, conversations)
        started = Conversation(**conversation) if conversation["id"] is not None else None
        return Identity(**identity), Person(**person), started

    async def for_person(self, person_id: int) -> list[Identity]:
        """The person's active identities."""
        result = await self._run(
            "identities.for_person",
            lambda: (
                sa.select(identities)
                .where(
                    identities.c.person_id == sa.bindparam("b_person"),
                    identities.c.revoked_at.is_(None),
                )
                .order_by(identities.c.id)
            ),
            {"b_person": person_id},
        )
        return to_records(Identity, result.all())

    async def revoke(self, identity_id: int) -> bool:
        """Unbind; the row stays for the record. Returns whether it was active."""
        stmt = (
            sa.update(identities)
            .where(identities.c.id == identity_id, identities.c.revoked_at.is_(None))
            .values(revoked_at=self._now())
        )
        return (await self._conn.execute(stmt)).rowcount > 0


class InviteRepo(Repo):
    __slots__ = ()

    async def create(
        self,
        code: str,
        person_id: int,
        *,
        expires_at: datetime,
        channel: Channel | None = None,
        role: Role | None = None,
        site_id: int | None = None,
    ) -> Invite:
        if (role is None) != (site_id is None):
            raise StateConflict("an invite names both a role and a site, or neither")
        row = await self._insert(
            invites,
            {
                "code": code,
                "person_id": person_id,
                "channel": channel,
                "role": role,
                "site_id": site_id,
                "created_at": self._now(),
                "expires_at": expires_at,
                "used_at": None,
                "revoked_at": None,
            },
        )
        return to_record(Invite, row)

    async def get(self, code: str) -> Invite | None:
        row = await self._one(sa.select(invites).where(invites.c.code == code))
        return to_record(Invite, row) if row else None

    async def redeem(self, code: str, now: datetime) -> Redemption:
        """Use the code once. The caller then binds the identity and grants the role in the
        same transaction; a concurrent second redemption finds the code used."""
        invite = await self.get(code)
        problem = None
        if invite is None:
            problem = InviteProblem.UNKNOWN
        elif invite.revoked_at is not None:
            problem = InviteProblem.REVOKED
        elif invite.used_at is not None:
            problem = InviteProblem.USED
        elif invite.expires_at <= now:
            problem = InviteProblem.EXPIRED
        if problem is not None or invite is None:
            return Redemption(invite=invite, person=None, problem=problem)
        row = await self._update(
            invites,
            (invites.c.id == invite.id) & invites.c.used_at.is_(None),
            {"used_at": now},
        )
        if row is None:
            return Redemption(invite=invite, person=None, problem=InviteProblem.USED)
        person_row = await self._one(sa.select(people).where(people.c.id == invite.person_id))
        assert person_row is not None
        return Redemption(
            invite=to_record(Invite, row), person=to_record(Person, person_row), problem=None
        )

    async def revoke(self, code: str) -> bool:
        stmt = (
            sa.update(invites)
            .where(invites.c.code == code, invites.c.revoked_at.is_(None))
            .values(revoked_at=self._now())
        )
        return (await self._conn.execute(stmt)).rowcount > 0


_person = people.c.id == identities.c.person_id


def _resolving(select: sa.Select[Any], joined: sa.FromClause) -> sa.Select[Any]:
    """`select` from `joined` (identities joined with people, and more) for the active
    binding of a channel account to an active person."""
    return select.select_from(joined).where(
        identities.c.channel == sa.bindparam("b_channel"),
        identities.c.external_id == sa.bindparam("b_external"),
        identities.c.revoked_at.is_(None),
        people.c.active.is_(True),
    )


def _resolving_in_chat() -> sa.Select[Any]:
    """:func:`_resolving` with the person's conversation in the chat `b_chat`, if any."""
    in_chat = sa.and_(
        conversations.c.person_id == identities.c.person_id,
        conversations.c.channel == identities.c.channel,
        conversations.c.chat_id == sa.bindparam("b_chat"),
    )
    return _resolving(
        sa.select(identities, people, conversations),
        identities.join(people, _person).outerjoin(conversations, in_chat),
    )
