"""Personal web-chat links: the link carries a login token; the database keeps only its hash.

A person has at most one working web link: issuing a new one revokes the old. The chat id is
the person's id, so a new link continues the same conversation and history.
"""

from __future__ import annotations

import secrets

from storage.db import Tx
from storage.people import web_external_id
from storage.records import Channel, Person

TOKEN_BYTES = 32
WILDCARD_HOSTS = {"", "0.0.0.0", "::"}


def chat_id_for(person_id: int) -> str:
    return str(person_id)


def chat_url(host: str, port: int, public_url: str = "") -> str:
    """The page's address: the public URL when one is set, else as this machine opens it."""
    if public_url:
        return f"{public_url.rstrip('/')}/chat"
    if host in WILDCARD_HOSTS:
        host = "127.0.0.1"
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}/chat"


def login_link(host: str, port: int, token: str, public_url: str = "") -> str:
    """The token rides in the fragment, which browsers never send to the server (or its logs)."""
    return f"{chat_url(host, port, public_url)}#t={token}"


async def revoke_logins(tx: Tx, person_id: int) -> int:
    """Make every web link of the person stop working; returns how many were active."""
    revoked = 0
    for identity in await tx.identities.for_person(person_id):
        if identity.channel is Channel.WEB and await tx.identities.revoke(identity.id):
            revoked += 1
    return revoked


async def issue_login(tx: Tx, person: Person) -> str:
    """A new login token for the person (the previous web link stops working)."""
    await revoke_logins(tx, person.id)
    token = secrets.token_urlsafe(TOKEN_BYTES)
    await tx.identities.bind(
        person.id,
        Channel.WEB,
        web_external_id(token),
        chat_id=chat_id_for(person.id),
        display_name=person.name,
    )
    return token
