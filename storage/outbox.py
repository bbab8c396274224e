"""The outbox: messages written with the state change that caused them, delivered later."""

from __future__ import annotations

import functools
import itertools
from collections.abc import Awaitable, Callable, Collection, Iterable
from collections.abc import Set as AbstractSet
from dataclasses import replace
from datetime import datetime
from typing import Any, Concatenate, NamedTuple, ParamSpec, TypeVar

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB

from storage.base import Repo, lease, lease_until, padded, to_record, to_records
from storage.errors import NotFound
from storage.records import Channel, JsonDict, OutboxKind, OutboxMessage, OutboxStatus
from storage.tables import outbox

_ERROR_LIMIT = 2000


class SentMark(NamedTuple):
    """A message the channel accepted, to mark sent: the channel's id of it, and the payload
    as sent when delivery filled it in (a rendered report file)."""

    message_id: int
    channel_message_id: str | None
    payload: JsonDict | None = None


_R = TypeVar("_R")
_P = ParamSpec("_P")


def _written(
    method: Callable[Concatenate[OutboxRepo, _P], Awaitable[_R]],
) -> Callable[Concatenate[OutboxRepo, _P], Awaitable[_R]]:
    """Write what `add` queued first: whatever reads or changes the outbox sees it."""

    @functools.wraps(method)
    async def written_first(repo: OutboxRepo, /, *args: _P.args, **kwargs: _P.kwargs) -> _R:
        if repo._ctx.unwritten:
            await repo.flush()
        return await method(repo, *args, **kwargs)

    return written_first


class _Queued(NamedTuple):
    """What `lease_queued` looks at in a message the transaction queued: its id once
    written, else its place among those not written yet."""

    id: int | None
    kind: OutboxKind
    edit_of_ref: str | None
    not_before: datetime
    position: int = -1


class OutboxRepo(Repo):
    __slots__ = ()

    def add(
        self,
        channel: Channel,
        chat_id: str,
        kind: OutboxKind,
        payload: JsonDict,
        *,
        person_id: int | None = None,
        ref: str | None = None,
        edit_of_ref: str | None = None,
        not_before: datetime | None = None,
    ) -> None:
        """Queue a message without writing it yet. A transaction's messages are written
        together, as one INSERT, when its outbox workers take them over (`lease_queued`
        writes them leased), before anything reads or changes the outbox, or as it commits.
        `ref` names the message (e.g. "insp:12:item:3") so that a later row with
        `edit_of_ref` can edit whatever message id the channel gave it."""
        now = self._now()
        self._ctx.unwritten.append(
            {
                "channel": channel,
                "chat_id": chat_id,
                "person_id": person_id,
                "kind": kind,
                "payload": payload,
                "ref": ref,
                "edit_of_ref": edit_of_ref,
                "not_before": not_before or now,
                "created_at": now,
                "attempts": 0,
                "status": OutboxStatus.PENDING,
                "claimed_by": None,
                "claim_expires_at": None,
            }
        )

    async def enqueue(
        self,
        channel: Channel,
        chat_id: str,
        kind: OutboxKind,
        payload: JsonDict,
        *,
        person_id: int | None = None,
        ref: str | None = None,
        edit_of_ref: str | None = None,
        not_before: datetime | None = None,
    ) -> OutboxMessage:
        """Queue a message and write it now (with those `add` queued before it)."""
        self.add(
            channel,
            chat_id,
            kind,
            payload,
            person_id=person_id,
            ref=ref,
            edit_of_ref=edit_of_ref,
            not_before=not_before,
        )
        return (await self.flush())[-1]

    async def flush(self) -> list[OutboxMessage]:
        """Write the messages `add` queued that are not written yet, in the order queued
        (their ids ascend so), up to `_MANY` in one statement; returns them as written."""
        rows = list(self._ctx.unwritten)
        self._ctx.unwritten.clear()
        written = []
        for start in range(0, len(rows), _MANY):
            batch = rows[start : start + _MANY]
            params = {
                f"b_{name}_{n}": row[name] for n, row in enumerate(batch) for name in _COLUMNS
            }
            size = len(batch)
            inserted = await self._run(
                ("outbox.insert", size), functools.partial(_insert_rows, size), params
            )
            # Rows of one INSERT get their ids in the order of its VALUES (SQLite's rowid and
            # PostgreSQL's sequence alike), but RETURNING need not give them back in it. Only
            # the ids come back: the rest is what was written (reading the payload back
            # decoded it again, a sixth of a tap's storage work).
            ids = sorted(row[0] for row in inserted.all())
            for message_id, row in zip(ids, batch, strict=True):
                message = OutboxMessage(
                    id=message_id, **row, last_error=None, sent_at=None, channel_message_id=None
                )
                self._ctx.queued.append(message)
                written.append(message)
        return written

    @_written
    async def get(self, message_id: int) -> OutboxMessage | None:
        row = await self._by_id(outbox, message_id)
        return to_record(OutboxMessage, row) if row else None

    @_written
    async def claim(
        self,
        channel: Channel,
        now: datetime,
        *,
        limit: int,
        worker_id: str,
        lease_seconds: float,
    ) -> list[OutboxMessage]:
        """Lease up to `limit` due messages, oldest first, for delivery.

        Only the oldest pending message of each chat is eligible, so a chat never has two
        messages in flight and its order holds; a message waiting for a retry holds back
        the ones behind it. Each claim counts as an attempt. Concurrent claimers never get
        the same row (row locks skipped on PostgreSQL, the write lock on SQLite).
        """
        params = {
            "b_channel": channel,
            "b_now": now,
            "b_limit": limit,
            "b_worker_id": worker_id,
            "b_expires": lease_until(now, lease_seconds),
        }
        claimed = to_records(OutboxMessage, (await self._run("outbox.claim", _claim, params)).all())
        return sorted(claimed, key=lambda message: message.id)

    async def lease_queued(
        self,
        channel: Channel,
        now: datetime,
        *,
        limit: int,
        worker_id: str,
        lease_seconds: float,
        alongside: frozenset[OutboxKind] = frozenset(),
        sent: Collection[int] = (),
    ) -> list[list[OutboxMessage]]:
        """Lease to `worker_id`, before this transaction commits, the messages it queued for
        `channel`: per chat, the leading ones that are due now (up to `limit`), unless an
        earlier message of the chat is still pending. They are then the worker's as if
        claimed, and it can send them as soon as the transaction commits, without a claim of
        its own; a chat with earlier messages pending is left to the claims. Those not
        written yet are written here, leased as they are written (one statement for all).

        Earlier messages of the kinds in `alongside` (those a channel sends alongside the
        chat's others: answering a button, editing a message) do not hold the chat back,
        except an edit of a message the new ones edit too (edits of one message keep their
        order). Earlier messages whose ids are in `sent` count as sent: the worker has
        sent them and is about to mark them so."""
        # Those written come first: `flush` writes every message queued before a write.
        by_chat: dict[str, list[_Queued]] = {}
        for message in self._ctx.queued:
            if message.channel == channel:
                by_chat.setdefault(message.chat_id, []).append(
                    _Queued(message.id, message.kind, message.edit_of_ref, message.not_before)
                )
        unwritten = self._ctx.unwritten
        for n, row in enumerate(unwritten):
            if row["channel"] == channel:
                by_chat.setdefault(row["chat_id"], []).append(
                    _Queued(None, row["kind"], row["edit_of_ref"], row["not_before"], n)
                )
        expires = lease_until(now, lease_seconds)
        chats: list[list[_Queued]] = []
        for chat_id, messages in by_chat.items():
            due = list(itertools.takewhile(lambda m: m.not_before <= now, messages))[:limit]
            if not due or await self._held_back(channel, chat_id, due, alongside, sent):
                continue
            chats.append(due)
            for new in due:
                if new.id is None:
                    row = unwritten[new.position]
                    row |= {"claimed_by": worker_id, "claim_expires_at": expires, "attempts": 1}
        ids = sorted(new.id for due in chats for new in due if new.id is not None)
        values = [{"b_id": i, "b_worker_id": worker_id, "b_expires": expires} for i in ids]
        await self._run_many("outbox.lease_one", _lease_one, values)
        written = await self.flush()
        by_id = {message.id: message for message in self._ctx.queued}
        return [
            [
                written[new.position]
                if new.id is None
                else replace(
                    by_id[new.id],
                    claimed_by=worker_id,
                    claim_expires_at=expires,
                    attempts=by_id[new.id].attempts + 1,
                )
                for new in due
            ]
            for due in chats
        ]

    async def _held_back(
        self,
        channel: Channel,
        chat_id: str,
        messages: list[_Queued],
        alongside: frozenset[OutboxKind],
        sent: Collection[int],
    ) -> bool:
        """Whether an earlier pending message of the chat must go before `messages` (every
        pending one of the chat when the first is not written yet)."""
        params: dict[str, Any] = {"b_channel": channel, "b_chat_id": chat_id}
        first = messages[0].id
        if first is None:
            found = await self._run("outbox.pending_of_chat", _earlier, params)
        else:
            found = await self._run(
                "outbox.earlier",
                functools.partial(_earlier, before=True),
                params | {"b_before": first},
            )
        earlier = found.all()
        if len(earlier) >= _EARLIER_LIMIT:
            return True
        edited = {m.edit_of_ref for m in messages if m.kind is OutboxKind.EDIT}
        return any(
            row.id not in sent
            and (
                row.kind not in alongside
                or (row.kind is OutboxKind.EDIT and row.edit_of_ref in edited)
            )
            for row in earlier
        )

    @_written
    async def any_waiting(self, channel: Channel, chat_ids: Collection[str]) -> bool:
        """Whether any of the chats has a pending message nobody has leased."""
        if not chat_ids:
            return False
        chats = padded(chat_ids)
        size = len(chats)
        params = {"b_channel": channel, **{f"b_chat_{n}": chat for n, chat in enumerate(chats)}}
        result = await self._run(("outbox.any_waiting", size), lambda: _any_waiting(size), params)
        return result.scalar() is not None

    @_written
    async def mark_sent_many(self, sent: Iterable[SentMark]) -> None:
        """Delivered: remember each message's channel id for later edits, and its payload as
        sent when delivery filled it in (a rendered report file). In id order, as every
        transaction that locks outbox rows takes them (so two never wait for each other: a
        deadlock on PostgreSQL): one executemany per run of messages that keep their payload
        or replace it."""
        marks = sorted(sent, key=lambda mark: mark.message_id)
        now = self._now()
        changed: int | None = 0
        for _, run in itertools.groupby(marks, key=lambda mark: mark.payload is None):
            params = [_sent_values(mark, now) for mark in run]
            count = await self._run_many("outbox.finish", _finish_by_id, params)
            changed = None if changed is None or count is None else changed + count
        ids = [mark.message_id for mark in marks]
        if not await self._all_changed(ids, changed, outbox.c.status == OutboxStatus.SENT):
            raise NotFound(f"outbox message among {ids}")

    @_written
    async def claim_following(
        self,
        first: OutboxMessage,
        now: datetime,
        *,
        limit: int,
        worker_id: str,
        lease_seconds: float,
    ) -> list[OutboxMessage]:
        """Lease, to the worker that holds `first` (its chat's oldest pending message), the
        chat's messages after it that are due now and not waiting for a retry, in order, up
        to `limit`: the chat's messages are then sent one after another without a claim
        each. Nobody else can claim them meanwhile: `claim` only ever offers a chat's
        oldest pending message, and that one is leased."""
        params = {"b_channel": first.channel, "b_chat_id": first.chat_id, "b_after": first.id}
        waiting = await self._run("outbox.following", _following, {**params, "b_limit": limit})
        last: int | None = None
        for row in waiting.all():
            if row.not_before > now or (
                row.claim_expires_at is not None and row.claim_expires_at > now
            ):
                break
            last = row.id
        if last is None:
            return []
        leased = {
            **params,
            "b_last": last,
            "b_worker_id": worker_id,
            "b_expires": lease_until(now, lease_seconds),
        }
        rows = (await self._run("outbox.lease_following", _lease_following, leased)).all()
        return sorted(to_records(OutboxMessage, rows), key=lambda message: message.id)

    @_written
    async def release_many(self, message_ids: Iterable[int]) -> None:
        """Give back leased messages that were not tried (an earlier one of their chat failed
        or the worker is stopping; the claim does not count as an attempt), in id order (see
        `mark_sent_many`), as one executemany."""
        ids = sorted(message_ids)
        changed = await self._run_many("outbox.release", _unlease_by_id, [{"b_id": i} for i in ids])
        released = sa.and_(outbox.c.status == OutboxStatus.PENDING, outbox.c.claimed_by.is_(None))
        if not await self._all_changed(ids, changed, released):
            raise NotFound(f"pending outbox message among {ids}")

    async def _all_changed(
        self, ids: list[int], changed: int | None, now_true: sa.ColumnElement[bool]
    ) -> bool:
        """Whether a statement run for each of `ids` changed all of those rows: `changed`
        when the driver counted, else whether the rows for which `now_true` holds, as it
        does for each row the statement changed (locked by this transaction since), are
        all of them."""
        if changed is not None:
            return changed == len(ids)
        stmt = sa.select(sa.func.count()).where(outbox.c.id.in_(ids), now_true)
        return await self._conn.scalar(stmt) == len(set(ids))

    @_written
    async def mark_failed(
        self, message_id: int, error: str, *, retry_at: datetime, dead: bool = False
    ) -> None:
        """Delivery failed: retry at `retry_at`, or give up for good when `dead`."""
        await self._finish(
            message_id,
            status=OutboxStatus.DEAD if dead else OutboxStatus.PENDING,
            last_error=error[:_ERROR_LIMIT],
            not_before=retry_at,
        )

    @_written
    async def defer(self, message_id: int, retry_at: datetime) -> None:
        """Hand a leased message back until `retry_at` without counting the claim as an
        attempt (its content was not ready; nothing was tried)."""
        params = {"not_before": retry_at, "b_id": message_id}
        if (await self._run("outbox.defer", _unlease_by_id, params)).rowcount == 0:
            raise NotFound(f"pending outbox message {message_id}")

    async def _finish(self, message_id: int, **values: object) -> None:
        params = {"b_id": message_id, "claimed_by": None, "claim_expires_at": None, **values}
        if (await self._run("outbox.finish", _finish_by_id, params)).rowcount == 0:
            raise NotFound(f"outbox message {message_id}")

    @_written
    async def message_id_for_ref(self, channel: Channel, chat_id: str, ref: str) -> str | None:
        """The channel's message id of the latest sent message named `ref` in the chat."""
        params = {"b_channel": channel, "b_chat_id": chat_id, "b_ref": ref}
        result = await self._run("outbox.message_id_for_ref", _message_id_for_ref, params)
        value: str | None = result.scalar()
        return value

    @_written
    async def forget(
        self,
        channel: Channel,
        kind: OutboxKind,
        before: datetime,
        *,
        keep_refs: AbstractSet[str] = frozenset(),
        skip: int = 0,
        limit: int = 1000,
    ) -> tuple[int, int]:
        """Delete the chat's messages of `kind` in `channel` created before `before` that were
        delivered or given up on, oldest first: `limit` of them are looked at, from the
        `skip`-th on. A message whose `ref` is in `keep_refs` stays (a later edit finds the
        message it replaces by that name); pending ones always stay. Returns (deleted, kept)
        of those looked at: the next call skips the kept ones."""
        stmt = (
            sa.select(outbox.c.id, outbox.c.ref)
            .where(
                outbox.c.channel == channel,
                outbox.c.kind == kind,
                outbox.c.created_at < before,
                outbox.c.status.in_((OutboxStatus.SENT, OutboxStatus.DEAD)),
            )
            .order_by(outbox.c.created_at, outbox.c.id)
            .offset(skip)
            .limit(limit)
        )
        rows = await self._all(stmt)
        gone = [row.id for row in rows if row.ref is None or row.ref not in keep_refs]
        if gone:
            await self._conn.execute(sa.delete(outbox).where(outbox.c.id.in_(gone)))
        return len(gone), len(rows) - len(gone)

    @_written
    async def delivered(
        self,
        channel: Channel,
        chat_id: str,
        kinds: Collection[OutboxKind],
        *,
        after: int = 0,
        limit: int,
    ) -> list[OutboxMessage]:
        """The chat's messages of `kinds` after row `after` that were delivered or are being
        delivered now (`_delivered`), newest first, at most `limit` of them."""
        stmt = (
            sa.select(outbox)
            .where(_delivered(channel, chat_id), outbox.c.id > after, outbox.c.kind.in_(kinds))
            .order_by(outbox.c.id.desc())
            .limit(limit)
        )
        return to_records(OutboxMessage, await self._all(stmt))

    @_written
    async def delivered_file(
        self, channel: Channel, chat_id: str, sha256: str
    ) -> OutboxMessage | None:
        """The newest photo or document message of the chat, delivered or being delivered, that
        shows the stored file `sha256` (as its document or one of its photos)."""
        stmt = (
            sa.select(outbox)
            .where(
                _delivered(channel, chat_id),
                sa.or_(
                    sa.and_(
                        outbox.c.kind == OutboxKind.SEND_DOCUMENT,
                        outbox.c.payload["document"].as_string() == sha256,
                    ),
                    sa.and_(
                        outbox.c.kind == OutboxKind.SEND_PHOTO,
                        self._photos_hold(sha256),
                    ),
                ),
            )
            .order_by(outbox.c.id.desc())
            .limit(1)
        )
        rows = await self._all(stmt)
        return to_record(OutboxMessage, rows[0]) if rows else None

    def _photos_hold(self, sha256: str) -> sa.ColumnElement[bool]:
        """Whether the row's payload lists `sha256` among its "photos" (a JSON array)."""
        if self._ctx.dialect == "postgresql":
            return sa.type_coerce(outbox.c.payload, JSONB)["photos"].contains([sha256])
        photos = sa.func.json_each(outbox.c.payload, "$.photos").table_valued("value")
        return sa.exists(sa.select(1).select_from(photos).where(photos.c.value == sha256))

    @_written
    async def newest_sent_named(
        self, channel: Channel, chat_id: str, prefixes: Collection[str]
    ) -> OutboxMessage | None:
        """The chat's newest sent message whose channel message id starts with one of
        `prefixes` (a channel that encodes what it showed in the id finds it again)."""
        stmt = (
            sa.select(outbox)
            .where(
                outbox.c.channel == channel,
                outbox.c.chat_id == chat_id,
                outbox.c.status == OutboxStatus.SENT,
                sa.or_(*(outbox.c.channel_message_id.startswith(p) for p in prefixes)),
            )
            .order_by(outbox.c.id.desc())
            .limit(1)
        )
        rows = await self._all(stmt)
        return to_record(OutboxMessage, rows[0]) if rows else None

    @_written
    async def pending_count(self, channel: Channel | None = None) -> int:
        stmt = (
            sa.select(sa.func.count())
            .select_from(outbox)
            .where(outbox.c.status == OutboxStatus.PENDING)
        )
        if channel is not None:
            stmt = stmt.where(outbox.c.channel == channel)
        return int(await self._conn.scalar(stmt) or 0)


def _delivered(channel: Channel, chat_id: str) -> sa.ColumnElement[bool]:
    """Messages of the chat that were delivered, or are being delivered right now."""
    return sa.and_(
        outbox.c.channel == channel,
        outbox.c.chat_id == chat_id,
        sa.or_(
            outbox.c.status == OutboxStatus.SENT,
            sa.and_(outbox.c.status == OutboxStatus.PENDING, outbox.c.claimed_by.is_not(None)),
        ),
    )


def _claim() -> sa.Update:
    """Lease the oldest due messages of chats that have no earlier pending message."""
    now: sa.BindParameter[datetime] = sa.bindparam("b_now")
    earlier = outbox.alias("earlier")
    earlier_pending = (
        sa.select(earlier.c.id)
        .where(
            earlier.c.channel == outbox.c.channel,
            earlier.c.chat_id == outbox.c.chat_id,
            earlier.c.status == OutboxStatus.PENDING,
            earlier.c.id < outbox.c.id,
        )
        .exists()
    )
    due = (
        sa.select(outbox.c.id)
        .where(
            outbox.c.channel == sa.bindparam("b_channel"),
            outbox.c.status == OutboxStatus.PENDING,
            outbox.c.not_before <= now,
            sa.or_(outbox.c.claim_expires_at.is_(None), outbox.c.claim_expires_at <= now),
            ~earlier_pending,
        )
        .order_by(outbox.c.id)
        .limit(sa.bindparam("b_limit"))
        .with_for_update(skip_locked=True)
    )
    return lease(
        outbox, due, worker_id=sa.bindparam("b_worker_id"), expires=sa.bindparam("b_expires")
    )


# More earlier pending messages than this hold a chat back without looking at each.
_EARLIER_LIMIT = 32


_MANY = 32
"""The most messages :meth:`OutboxRepo.flush` inserts in one statement (one statement shape
per count up to it)."""

_COLUMNS = (
    "channel",
    "chat_id",
    "person_id",
    "kind",
    "payload",
    "ref",
    "edit_of_ref",
    "not_before",
    "created_at",
    "attempts",
    "status",
    "claimed_by",
    "claim_expires_at",
)
"""The columns a message is written with (the rest start empty)."""


def _insert_rows(size: int) -> sa.Insert:
    """INSERT of `size` messages (b_channel_0, b_chat_id_0, …, b_channel_1, …)."""
    rows = [
        {name: sa.bindparam(f"b_{name}_{n}", type_=outbox.c[name].type) for name in _COLUMNS}
        for n in range(size)
    ]
    return sa.insert(outbox).values(rows).returning(outbox.c.id)


def _earlier(*, before: bool = False) -> sa.Select[int, OutboxKind, str | None]:
    """The chat's pending messages (with `before`: those older than row b_before)."""
    stmt = sa.select(outbox.c.id, outbox.c.kind, outbox.c.edit_of_ref).where(
        outbox.c.channel == sa.bindparam("b_channel"),
        outbox.c.chat_id == sa.bindparam("b_chat_id"),
        outbox.c.status == OutboxStatus.PENDING,
    )
    if before:
        stmt = stmt.where(outbox.c.id < sa.bindparam("b_before"))
    return stmt.limit(_EARLIER_LIMIT)


def _any_waiting(size: int) -> sa.Select[int]:
    """A pending message nobody has leased of one of `size` chats (b_chat_0, b_chat_1, …)."""
    return (
        sa.select(outbox.c.id)
        .where(
            outbox.c.channel == sa.bindparam("b_channel"),
            outbox.c.chat_id.in_([sa.bindparam(f"b_chat_{n}") for n in range(size)]),
            outbox.c.status == OutboxStatus.PENDING,
            outbox.c.claimed_by.is_(None),
        )
        .limit(1)
    )


def _sent_values(mark: SentMark, now: datetime) -> dict[str, Any]:
    """The parameters of `_finish_by_id` that mark `mark` sent."""
    values: dict[str, Any] = {
        "b_id": mark.message_id,
        "claimed_by": None,
        "claim_expires_at": None,
        "status": OutboxStatus.SENT,
        "sent_at": now,
        "channel_message_id": mark.channel_message_id,
    }
    if mark.payload is not None:
        values["payload"] = mark.payload
    return values


def _finish_by_id() -> sa.Update:
    """UPDATE of one message by id; what it sets is given as parameters."""
    return sa.update(outbox).where(outbox.c.id == sa.bindparam("b_id"))


def _unlease_by_id() -> sa.Update:
    """Hand a pending message's lease back; the claim does not count as an attempt."""
    return (
        sa.update(outbox)
        .where(
            outbox.c.id == sa.bindparam("b_id"),
            outbox.c.status == OutboxStatus.PENDING,
        )
        .values(
            claimed_by=None,
            claim_expires_at=None,
            attempts=sa.case((outbox.c.attempts > 0, outbox.c.attempts - 1), else_=0),
        )
    )


def _lease_one() -> sa.Update:
    return (
        sa.update(outbox)
        .where(outbox.c.id == sa.bindparam("b_id"))
        .values(
            claimed_by=sa.bindparam("b_worker_id"),
            claim_expires_at=sa.bindparam("b_expires"),
            attempts=outbox.c.attempts + 1,
        )
    )


def _following() -> sa.Select[int, datetime, datetime | None]:
    return (
        sa.select(outbox.c.id, outbox.c.not_before, outbox.c.claim_expires_at)
        .where(
            outbox.c.channel == sa.bindparam("b_channel"),
            outbox.c.chat_id == sa.bindparam("b_chat_id"),
            outbox.c.status == OutboxStatus.PENDING,
            outbox.c.id > sa.bindparam("b_after"),
        )
        .order_by(outbox.c.id)
        .limit(sa.bindparam("b_limit"))
    )


def _lease_following() -> sa.Update:
    return (
        sa.update(outbox)
        .where(
            outbox.c.channel == sa.bindparam("b_channel"),
            outbox.c.chat_id == sa.bindparam("b_chat_id"),
            outbox.c.status == OutboxStatus.PENDING,
            outbox.c.id > sa.bindparam("b_after"),
            outbox.c.id <= sa.bindparam("b_last"),
        )
        .values(
            claimed_by=sa.bindparam("b_worker_id"),
            claim_expires_at=sa.bindparam("b_expires"),
            attempts=outbox.c.attempts + 1,
        )
        .returning(outbox)
    )


def _message_id_for_ref() -> sa.Select[str | None]:
    return (
        sa.select(outbox.c.channel_message_id)
        .where(
            outbox.c.channel == sa.bindparam("b_channel"),
            outbox.c.chat_id == sa.bindparam("b_chat_id"),
            outbox.c.ref == sa.bindparam("b_ref"),
            outbox.c.status == OutboxStatus.SENT,
        )
        .order_by(outbox.c.id.desc())
        .limit(1)
    )
