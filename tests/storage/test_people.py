"""Sites, people, roles, channel identities and invites."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from storage.db import Database
from storage.errors import IdentityInUse, NotFound, StateConflict
from storage.people import web_external_id
from storage.records import Channel, InviteProblem, Role
from storage.tables import invites
from tests.storage.helpers import FakeClock, World, column


async def test_sites_create_find_update(db: Database, clock: FakeClock) -> None:
    async with db.transaction() as tx:
        site = await tx.sites.create(
            "阳光小区",
            timezone="Asia/Shanghai",
            address="一路1号",
            settings={"photo_required": True},
        )
        await tx.sites.create("月亮花园", timezone="Asia/Urumqi", quiet_start="22:00")
    assert site.created_at == clock.now
    assert (site.quiet_start, site.quiet_end, site.active) == ("21:00", "08:00", True)
    async with db.transaction() as tx:
        assert await tx.sites.get(site.id) == site
        assert await tx.sites.by_name("阳光小区") == site
        changed = await tx.sites.update(site.id, quiet_end="07:30", active=False)
        assert changed.quiet_end == "07:30"
        assert changed.settings == {"photo_required": True}
        assert [s.name for s in await tx.sites.all()] == ["月亮花园"]
        assert len(await tx.sites.all(include_inactive=True)) == 2
        assert [s.id for s in await tx.sites.get_many([site.id])] == [site.id]
        with pytest.raises(NotFound):
            await tx.sites.update(999, name="x")


async def test_people_names_are_not_unique(db: Database) -> None:
    async with db.transaction() as tx:
        first = await tx.people.create("张伟", phone="1")
        second = await tx.people.create("张伟", phone="2")
        admin = await tx.people.create("管理员", is_admin=True)
        assert [p.id for p in await tx.people.find_by_name("张伟")] == [first.id, second.id]
        assert [p.id for p in await tx.people.admins()] == [admin.id]
        await tx.people.update(second.id, active=False, phone="3")
        assert {p.id for p in await tx.people.all()} == {admin.id, first.id}
        changed = await tx.people.get(second.id)
        assert changed is not None
        assert (changed.active, changed.phone) == (False, "3")
        assert len(await tx.people.get_many([first.id, second.id])) == 2
        with pytest.raises(NotFound):
            await tx.people.update(999, name="x")


async def test_roles_per_site(db: Database, world: World) -> None:
    async with db.transaction() as tx:
        roles = await tx.roles.for_person(world.inspector)
        assert {(r.site_id, r.role) for r in roles} == {
            (world.site_a, Role.INSPECTOR),
            (world.site_b, Role.INSPECTOR),
        }
        sites = await tx.roles.sites_with_role(world.inspector, Role.INSPECTOR)
        assert {s.id for s in sites} == {world.site_b, world.site_a}
        assert await tx.roles.has(world.manager, world.site_a, Role.MANAGER)
        assert not await tx.roles.has(world.manager, world.site_b, Role.MANAGER)
        staff = await tx.roles.people_with_role(world.site_a, Role.RESPONSIBLE)
        assert [p.id for p in staff] == [world.responsible]
        again = await tx.roles.grant(world.manager, world.site_a, Role.MANAGER)
        assert again.active
        assert await tx.roles.revoke(world.manager, world.site_a, Role.MANAGER)
        assert not await tx.roles.revoke(world.manager, world.site_a, Role.MANAGER)
        assert not await tx.roles.has(world.manager, world.site_a, Role.MANAGER)
        assert await tx.roles.for_person(world.manager) == []
        regranted = await tx.roles.grant(world.manager, world.site_a, Role.MANAGER)
        assert regranted.id == again.id
        assert regranted.active


async def test_regions_group_sites(db: Database) -> None:
    async with db.transaction() as tx:
        east = await tx.regions.create("华东")
        south = await tx.regions.create("华南")
        site = await tx.sites.create("阳光小区", timezone="Asia/Shanghai", region_id=east.id)
        loose = await tx.sites.create("月亮花园", timezone="Asia/Shanghai")
        assert site.region_id == east.id
        assert loose.region_id is None
        assert await tx.regions.by_name("华南") == south
        assert await tx.regions.get(east.id) == east
        assert {r.name for r in await tx.regions.all()} == {"华东", "华南"}
        assert [s.id for s in await tx.sites.in_region(east.id)] == [site.id]
        moved = await tx.sites.set_region(site.id, south.id)
        assert moved.region_id == south.id
        assert await tx.sites.in_region(east.id) == []
        assert (await tx.sites.set_region(site.id, None)).region_id is None
        with pytest.raises(NotFound):
            await tx.sites.set_region(999, east.id)


async def test_roles_at_region_and_company_cover_the_sites_below(
    db: Database, world: World
) -> None:
    """A region role reaches every site of the region, present and future; a company role
    every site; neither reaches a site outside."""
    async with db.transaction() as tx:
        east = await tx.regions.create("华东")
        south = await tx.regions.create("华南")
        await tx.sites.set_region(world.site_a, east.id)
        await tx.sites.set_region(world.site_b, south.id)
        boss = await tx.people.create("区域经理")
        hq = await tx.people.create("品质部")
        grant = await tx.roles.grant(boss.id, None, Role.MANAGER, region_id=east.id)
        assert (grant.site_id, grant.region_id, grant.company_wide) == (None, east.id, False)
        company = await tx.roles.grant(hq.id, None, Role.INSPECTOR)
        assert company.company_wide
        assert await tx.roles.has(boss.id, world.site_a, Role.MANAGER)
        assert not await tx.roles.has(boss.id, world.site_b, Role.MANAGER)
        assert not await tx.roles.has(boss.id, world.site_a, Role.INSPECTOR)
        managers = await tx.roles.people_with_role(world.site_a, Role.MANAGER)
        assert sorted(p.id for p in managers) == sorted([boss.id, world.manager])
        assert await tx.roles.people_with_role(world.site_b, Role.MANAGER) == []
        assert [s.id for s in await tx.roles.sites_with_role(boss.id, Role.MANAGER)] == [
            world.site_a
        ]
        inspected = await tx.roles.sites_with_role(hq.id, Role.INSPECTOR)
        assert {s.id for s in inspected} == {world.site_a, world.site_b}
        future = await tx.sites.create("新项目", timezone="Asia/Shanghai", region_id=east.id)
        assert await tx.roles.has(boss.id, future.id, Role.MANAGER)
        assert await tx.roles.has(hq.id, future.id, Role.INSPECTOR)
        assert await tx.roles.grant(boss.id, None, Role.MANAGER, region_id=east.id) == grant
        assert not await tx.roles.revoke(boss.id, world.site_a, Role.MANAGER)
        assert not await tx.roles.revoke(boss.id, None, Role.MANAGER)
        assert await tx.roles.has(boss.id, world.site_a, Role.MANAGER)
        assert await tx.roles.revoke(boss.id, None, Role.MANAGER, region_id=east.id)
        assert not await tx.roles.has(boss.id, future.id, Role.MANAGER)
        assert await tx.roles.revoke(hq.id, None, Role.INSPECTOR)
        assert await tx.roles.sites_with_role(hq.id, Role.INSPECTOR) == []
        with pytest.raises(StateConflict):
            await tx.roles.grant(hq.id, world.site_a, Role.MANAGER, region_id=east.id)


async def test_a_region_or_company_role_is_held_once(db: Database, world: World) -> None:
    """The schema itself keeps one row per person, role and level (NULLs are not equal in a
    plain unique constraint, hence the partial unique indexes)."""
    async with db.transaction() as tx:
        east = await tx.regions.create("华东")
        await tx.roles.grant(world.manager, None, Role.MANAGER, region_id=east.id)
        await tx.roles.grant(world.manager, None, Role.MANAGER)
    for values in (f"NULL, {east.id}", "NULL, NULL"):
        with pytest.raises(IntegrityError):
            async with db.transaction() as tx:
                await tx.connection.execute(
                    sa.text(
                        "INSERT INTO roles (person_id, site_id, region_id, role, active,"
                        f" created_at) VALUES ({world.manager}, {values}, 'manager', TRUE,"
                        " '2024-05-01 08:00:00')"
                    )
                )
    with pytest.raises(IntegrityError):
        async with db.transaction() as tx:
            await tx.connection.execute(
                sa.text(
                    "INSERT INTO roles (person_id, site_id, region_id, role, active, created_at)"
                    f" VALUES ({world.manager}, {world.site_a}, {east.id}, 'inspector', TRUE,"
                    " '2024-05-01 08:00:00')"
                )
            )


async def test_identities_bind_resolve_revoke(db: Database, world: World) -> None:
    async with db.transaction() as tx:
        ident = await tx.identities.bind(
            world.inspector, Channel.TELEGRAM, "1001", chat_id="1001", display_name="wang"
        )
        same = await tx.identities.bind(world.inspector, Channel.TELEGRAM, "1001", chat_id="77")
        assert same.id == ident.id
        assert same.chat_id == "77"
        assert same.display_name == "wang"
        with pytest.raises(IdentityInUse):
            await tx.identities.bind(world.manager, Channel.TELEGRAM, "1001")
        token_id = web_external_id("secret-login-token")
        assert token_id != "secret-login-token"
        assert len(token_id) == 64
        await tx.identities.bind(world.inspector, Channel.WEB, token_id)
    async with db.read() as tx:
        resolved = await tx.identities.resolve(Channel.TELEGRAM, "1001")
        assert resolved is not None
        identity, person = resolved
        assert identity.id == ident.id
        assert person.id == world.inspector
        assert await tx.identities.resolve(Channel.WECOM, "1001") is None
        assert len(await tx.identities.for_person(world.inspector)) == 2
    async with db.transaction() as tx:
        assert await tx.identities.revoke(ident.id)
        assert not await tx.identities.revoke(ident.id)
        assert await tx.identities.resolve(Channel.TELEGRAM, "1001") is None
        rebound = await tx.identities.bind(world.manager, Channel.TELEGRAM, "1001")
        assert rebound.id != ident.id
        await tx.people.update(world.manager, active=False)
        assert await tx.identities.resolve(Channel.TELEGRAM, "1001") is None


async def test_an_identity_resolves_with_its_conversation_in_the_chat(
    db: Database, world: World
) -> None:
    """One read gives the binding, its person and the person's conversation in the chat:
    none before the first save, the one of that chat and channel after."""
    async with db.transaction() as tx:
        ident = await tx.identities.bind(world.inspector, Channel.TELEGRAM, "1001", chat_id="1001")
        other = await tx.identities.bind(world.manager, Channel.TELEGRAM, "2002", chat_id="2002")
        assert await tx.identities.resolve_in_chat(Channel.TELEGRAM, "1001", "1001") == (
            ident,
            await tx.people.get(world.inspector),
            None,
        )
        saved = await tx.conversations.save(
            world.inspector, Channel.TELEGRAM, "1001", {"mode": "idle"}, expected_version=0
        )
        await tx.conversations.save(
            world.inspector, Channel.WECOM, "1001", {"mode": "item"}, expected_version=0
        )
        await tx.conversations.save(
            world.manager, Channel.TELEGRAM, "1001", {"mode": "note"}, expected_version=0
        )
    async with db.read() as tx:
        resolved = await tx.identities.resolve_in_chat(Channel.TELEGRAM, "1001", "1001")
        assert resolved is not None
        identity, person, conversation = resolved
        assert (identity, person.name, conversation) == (ident, "王检查", saved)
        assert conversation is not None and conversation.state == {"mode": "idle"}
        assert await tx.identities.resolve_in_chat(Channel.TELEGRAM, "1001", "-100") == (
            ident,
            person,
            None,
        )
        resolved = await tx.identities.resolve_in_chat(Channel.TELEGRAM, "2002", "2002")
        assert resolved is not None and resolved[0] == other and resolved[2] is None
        assert await tx.identities.resolve_in_chat(Channel.WECOM, "1001", "1001") is None
    async with db.transaction() as tx:
        await tx.identities.revoke(ident.id)
        assert await tx.identities.resolve_in_chat(Channel.TELEGRAM, "1001", "1001") is None


async def test_invites_are_one_use(db: Database, world: World, clock: FakeClock) -> None:
    expires = clock.now + timedelta(days=7)
    async with db.transaction() as tx:
        invite = await tx.invites.create(
            "CODE1",
            world.responsible,
            expires_at=expires,
            channel=Channel.TELEGRAM,
            role=Role.RESPONSIBLE,
            site_id=world.site_b,
        )
        await tx.invites.create("CODE2", world.responsible, expires_at=expires)
        await tx.invites.create("CODE3", world.manager, expires_at=expires)
        with pytest.raises(StateConflict):
            await tx.invites.create("BAD", world.manager, expires_at=expires, role=Role.MANAGER)
    assert invite.used_at is None
    async with db.transaction() as tx:
        used = await tx.invites.redeem("CODE1", clock.now)
        assert used.ok
        assert used.person is not None
        assert used.person.id == world.responsible
        assert used.invite is not None
        assert used.invite.used_at == clock.now
        assert used.invite.role is Role.RESPONSIBLE
        assert used.invite.site_id == world.site_b
        again = await tx.invites.redeem("CODE1", clock.now)
        assert again.problem is InviteProblem.USED
        assert not again.ok
        assert (await tx.invites.redeem("NOPE", clock.now)).problem is InviteProblem.UNKNOWN
        assert await tx.invites.revoke("CODE3")
        assert (await tx.invites.redeem("CODE3", clock.now)).problem is InviteProblem.REVOKED
        late = await tx.invites.redeem("CODE2", expires)
        assert late.problem is InviteProblem.EXPIRED
        assert await column(tx, invites, "code", person_id=world.responsible) == [
            "CODE1",
            "CODE2",
        ]
        fetched = await tx.invites.get("CODE2")
        assert fetched is not None
        assert fetched.used_at is None
