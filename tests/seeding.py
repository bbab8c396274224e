"""The demo company the journey tests share: a site with an inspector, two 责任人 and a
manager, each with a one-use invite code."""

from __future__ import annotations

from datetime import timedelta

from storage.db import Tx
from storage.records import Person, Role, Site

STAFF = (
    ("王检查", Role.INSPECTOR),
    ("张三", Role.RESPONSIBLE),
    ("李四", Role.RESPONSIBLE),
    ("赵经理", Role.MANAGER),
)


async def staff(tx: Tx, site: Site) -> dict[str, Person]:
    """The four people of STAFF with their role on the site."""
    people = {}
    for name, role in STAFF:
        person = await tx.people.create(name)
        await tx.roles.grant(person.id, site.id, role)
        people[name] = person
    return people


async def invites(tx: Tx, people: dict[str, Person], days: int, prefix: str) -> dict[str, str]:
    """A one-use invite code per person, valid for `days`."""
    codes = {}
    for name, person in people.items():
        codes[name] = f"{prefix}{person.id}x"
        await tx.invites.create(codes[name], person.id, expires_at=tx.now() + timedelta(days=days))
    return codes
