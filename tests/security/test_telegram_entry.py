"""The Telegram webhook under hostile input: without the secret Telegram was given, any
request is a 403 and changes nothing; with it, bodies of any shape are answered 200 (taken),
400 or 413, never a 5xx."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from tests.security.conftest import LiveBot, TracebackLog
from tests.security.hostile import HOSTILE, encoded, header_values, json_bodies, json_values, texts
from tests.security.rawhttp import request_bytes

HEADER = b"X-Telegram-Bot-Api-Secret-Token"


def updates() -> st.SearchStrategy[bytes]:
    """Updates shaped like Telegram's, with any value anywhere: ids of any type, chats of
    any kind, texts and button data with lone surrogates, missing or extra fields."""
    ids = st.one_of(st.integers(-(2**63), 2**63), json_values)
    user = st.fixed_dictionaries(
        {"id": ids, "is_bot": st.booleans(), "first_name": st.one_of(texts, json_values)},
        optional={"last_name": texts},
    )
    chat = st.fixed_dictionaries(
        {"id": ids, "type": st.one_of(st.sampled_from(["private", "group"]), texts)}
    )
    message = st.fixed_dictionaries(
        {"message_id": ids, "date": ids, "chat": st.one_of(chat, json_values)},
        optional={
            "from": user,
            "text": st.one_of(texts, json_values),
            "caption": texts,
            "photo": st.lists(
                st.fixed_dictionaries({"file_id": texts}, optional={"file_size": ids})
            ),
            "document": st.fixed_dictionaries({"file_id": texts}, optional={"file_name": texts}),
        },
    )
    query = st.fixed_dictionaries(
        {"id": st.one_of(texts, json_values), "from": user},
        optional={"data": st.one_of(texts, json_values), "message": message},
    )
    update: st.SearchStrategy[dict[str, Any]] = st.fixed_dictionaries(
        {"update_id": ids}, optional={"message": message, "callback_query": query}
    )
    return update.map(lambda u: json.dumps(u).encode())


def test_requests_without_the_secret_are_refused(live: LiveBot, tracebacks: TracebackLog) -> None:
    @HOSTILE
    @given(
        secret=st.one_of(
            st.none(),
            header_values,
            st.just(live.telegram_secret[:-1].encode()),
            st.just(live.telegram_secret.upper().encode()),
            st.just(live.telegram_secret.encode() + b" x"),
        ),
        body=st.one_of(updates(), encoded),
    )
    def run(secret: bytes | None, body: bytes) -> None:
        if secret == live.telegram_secret.encode():
            return
        headers = [] if secret is None else [(HEADER, secret)]
        tracebacks.records.clear()
        live.settle()  # what earlier requests started has finished
        before = live.counts()
        answer = live.send(request_bytes("POST", b"/telegram/webhook", headers, body))
        assert answer.status in (400, 403), answer  # 400: a header aiohttp cannot read
        assert live.counts() == before
        assert not tracebacks.records, tracebacks.records[0].getMessage()

    run()


def test_bodies_with_the_secret(live: LiveBot, tracebacks: TracebackLog) -> None:
    @HOSTILE
    @given(body=st.one_of(updates(), json_bodies({"update_id": json_values})))
    def run(body: bytes) -> None:
        headers = [(HEADER, live.telegram_secret.encode())]
        tracebacks.records.clear()
        live.settle()  # what earlier requests started has finished
        before = live.counts()
        answer = live.send(request_bytes("POST", b"/telegram/webhook", headers, body))
        assert answer.status in (200, 400, 413), (body[:300], answer)
        if answer.status != 200:
            live.settle()
            assert live.counts() == before
        assert not tracebacks.records, tracebacks.records[0].getMessage()

    run()
