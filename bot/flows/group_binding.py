"""Binding a Telegram group chat to a site (or region) from inside the group: a manager of it
sends `/bind CODE` (the code from `pinjian group invite`), and `/unbind` to undo it. The answer
goes to the group; nothing else is done in groups."""

from __future__ import annotations

from typing import Any

from bot.core.events import Incoming
from bot.core.messages import Outgoing
from bot.core.texts import render
from bot.flows.group_posts import scope_name
from storage.db import Tx
from storage.records import ChatGroup, GroupKind, OutboxKind, Person, Role

GROUP_COMMANDS = frozenset({"bind", "unbind"})


async def _say(tx: Tx, event: Incoming, template: str, **values: Any) -> None:
    message = Outgoing(kind=OutboxKind.SEND, text=render(template, **values))
    await tx.outbox.enqueue(event.channel, event.chat_id, message.kind, message.to_payload())


async def _manages(tx: Tx, person: Person, site_id: int | None, region_id: int | None) -> bool:
    """A manager of the site (or of its region, or company-wide) or of the region; admins too."""
    if person.is_admin:
        return True
    scopes: list[tuple[str, int | None]] = []
    if site_id is not None:
        site = await tx.sites.get(site_id)
        scopes.append(("site", site_id))
        if site is not None and site.region_id is not None:
            scopes.append(("region", site.region_id))
    else:
        scopes.append(("region", region_id))
    for grant in await tx.roles.for_person(person.id):
        if grant.role is not Role.MANAGER or not grant.active:
            continue
        if grant.site_id is None and grant.region_id is None:
            return True
        if ("site", grant.site_id) in scopes or ("region", grant.region_id) in scopes:
            return True
    return False


async def handle(tx: Tx, event: Incoming) -> None:
    """`/bind CODE` or `/unbind`, sent in a group chat."""
    resolved = await tx.identities.resolve(event.channel, event.user_id)
    if resolved is None:
        await _say(tx, event, "group_bind_bad", reason="stranger")
        return
    _, person = resolved
    if event.command == "bind":
        await _bind(tx, event, person)
    else:
        await _unbind(tx, event, person)


async def _bind(tx: Tx, event: Incoming, person: Person) -> None:
    code = await tx.groups.redeem_code(event.args)
    if code is None:
        await _say(tx, event, "group_bind_bad", reason="code")
        return
    if not await _manages(tx, person, code.site_id, code.region_id):
        await _say(tx, event, "group_bind_bad", reason="not_manager")
        return
    group = await tx.groups.add(
        GroupKind.TELEGRAM,
        site_id=code.site_id,
        region_id=code.region_id,
        chat_id=event.chat_id,
        title=event.display_name,
    )
    actor = f"person:{person.id}"
    await tx.audit.record(actor, "group.bind", target=f"group:{group.id}")
    await _say(tx, event, "group_bound", scope=await scope_name(tx, group))


async def _unbind(tx: Tx, event: Incoming, person: Person) -> None:
    bound = await tx.groups.by_chat(GroupKind.TELEGRAM, event.chat_id)
    if not bound:
        await _say(tx, event, "group_bind_bad", reason="unbound")
        return
    mine: list[ChatGroup] = [g for g in bound if await _manages(tx, person, g.site_id, g.region_id)]
    if not mine:
        await _say(tx, event, "group_bind_bad", reason="not_manager")
        return
    for group in mine:
        await tx.groups.remove(group.id)
        await tx.audit.record(f"person:{person.id}", "group.unbind", target=f"group:{group.id}")
    await _say(tx, event, "group_unbound", scopes=[await scope_name(tx, g) for g in mine])
