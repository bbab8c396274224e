"""Who is talking: binding a chat account to a person by invite, and refusing strangers."""

from __future__ import annotations

from collections import defaultdict

from bot.core.events import Incoming
from bot.core.messages import Outgoing
from bot.core.texts import label, plain, render
from storage.db import Tx
from storage.errors import IdentityInUse
from storage.records import OutboxKind, Person, Role


def role_name(role: Role) -> str:
    """检查员, 责任人 or 经理."""
    return label("roles", role)


async def refuse(
    tx: Tx, event: Incoming, template: str = "refused_stranger", **values: object
) -> None:
    """Answer someone who is not (or not validly) bound; tells them nothing else."""
    if event.callback_id:
        toast = Outgoing(kind=OutboxKind.ANSWER_CALLBACK, callback_id=event.callback_id)
        await tx.outbox.enqueue(
            channel=event.channel,
            chat_id=event.chat_id,
            person_id=None,
            kind=toast.kind,
            payload=toast.to_payload(),
        )
    message = Outgoing(kind=OutboxKind.SEND, text=render(template, **values))
    await tx.outbox.enqueue(
        channel=event.channel,
        chat_id=event.chat_id,
        person_id=None,
        kind=message.kind,
        payload=message.to_payload(),
    )


async def bind_by_invite(tx: Tx, event: Incoming) -> Person | None:
    """/start <code>: redeem the invite and bind this chat account to its person."""
    code = event.args.strip()
    if not code:
        await refuse(tx, event)
        return None
    invite = await tx.invites.get(code)
    if invite is not None and invite.channel not in (None, event.channel):
        await refuse(tx, event, "invite_bad", reason="unknown")
        return None
    redemption = await tx.invites.redeem(code, tx.now())
    if not redemption.ok or redemption.person is None:
        reason = redemption.problem.value if redemption.problem else "unknown"
        await refuse(tx, event, "invite_bad", reason=reason)
        return None
    try:
        await tx.identities.bind(
            redemption.person.id,
            event.channel,
            event.user_id,
            chat_id=event.chat_id,
            display_name=event.display_name or None,
        )
    except IdentityInUse:
        await refuse(tx, event, "invite_bad", reason="unknown")
        return None
    invite = redemption.invite
    if invite is not None and invite.role is not None and invite.site_id is not None:
        await tx.roles.grant(redemption.person.id, invite.site_id, invite.role)
    return redemption.person


async def role_rows(tx: Tx, person_id: int) -> list[dict[str, str]]:
    """The person's roles by where they are held: a site, a region (all its sites) or the
    whole company (`level` says which; `site` names the site or region)."""
    by_scope: dict[tuple[str, str], list[str]] = defaultdict(list)
    for grant in await tx.roles.for_person(person_id):
        if grant.site_id is not None:
            site = await tx.sites.get(grant.site_id)
            scope = ("site", site.name) if site is not None else None
        elif grant.region_id is not None:
            region = await tx.regions.get(grant.region_id)
            scope = ("region", region.name) if region is not None else None
        else:
            scope = ("company", "")
        if scope is not None:
            by_scope[scope].append(role_name(grant.role))
    return [
        {"level": level, "site": name, "roles": plain("common", "enumeration", items=names)}
        for (level, name), names in by_scope.items()
    ]
