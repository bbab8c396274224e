"""The WeCom callback (GET URL verification, POST messages) under hostile input: unsigned
requests of any shape are refused with a 4xx and change nothing; correctly signed and
encrypted messages whose content is anything at all are never answered with a 5xx."""

from __future__ import annotations

import time
from urllib.parse import quote

from hypothesis import given
from hypothesis import strategies as st

from tests.security.conftest import LiveBot, TracebackLog
from tests.security.hostile import HOSTILE, encodable, encoded, header_values, queries, segments
from tests.security.rawhttp import request_bytes
from tests.wecom.callbacks import build_envelope, build_template_card_event, build_text
from tests.wecom.runner import AGENT_ID, CORP_ID

KEYS = ["msg_signature", "timestamp", "nonce", "echostr"]


def check(live: LiveBot, raw: bytes, tracebacks: TracebackLog, *, signed: bool) -> None:
    tracebacks.records.clear()
    live.settle()  # what earlier requests started has finished
    before = live.counts()
    answer = live.send(raw)
    assert answer.status < 500, (raw[:300], answer)
    if not signed:
        assert 400 <= answer.status < 500, (raw[:300], answer)
    if answer.status >= 400:
        live.settle()
        assert live.counts() == before, raw[:300]
    assert not tracebacks.records, tracebacks.records[0].getMessage()


def test_unsigned_callbacks_are_refused(live: LiveBot, tracebacks: TracebackLog) -> None:
    @HOSTILE
    @given(
        method=st.sampled_from(["GET", "POST"]),
        query=st.one_of(
            queries(KEYS),
            st.builds(
                lambda ts, rest: (
                    b"msg_signature=" + b"0" * 40 + b"&nonce=1&echostr=x&timestamp=" + ts + rest
                ),
                st.one_of(segments, st.integers(1, 6000).map(lambda n: b"9" * n)),
                queries(KEYS).map(lambda q: b"&" + q if q else b""),
            ),
        ),
        body=st.one_of(encoded, encodable.map(build_envelope)),
        content_type=header_values,
    )
    def run(method: str, query: bytes, body: bytes, content_type: bytes) -> None:
        raw = request_bytes(
            method, b"/wecom/callback?" + query, [(b"Content-Type", content_type)], body
        )
        check(live, raw, tracebacks, signed=False)

    run()


def test_signed_messages_with_any_content(live: LiveBot, tracebacks: TracebackLog) -> None:
    """What only someone holding the token and key can send: any plaintext (XML or not),
    texts and card presses with any content, signed and encrypted for real."""
    plaintexts = st.one_of(
        encoded,
        st.builds(
            lambda user, text: build_text(
                user, text, to_user=CORP_ID, agent_id=AGENT_ID, msg_id=time.time_ns()
            ),
            st.sampled_from(["wangjiancha", "stranger"]),
            encodable,
        ),
        st.builds(
            lambda key, task: build_template_card_event(
                "wangjiancha", task, key, "code", to_user=CORP_ID, agent_id=AGENT_ID
            ),
            encodable,
            encodable,
        ),
    )

    @HOSTILE
    @given(plaintext=plaintexts, method=st.sampled_from(["GET", "POST"]))
    def run(plaintext: bytes, method: str) -> None:
        encrypted = live.wecom.encrypt(plaintext)
        timestamp, nonce = str(int(time.time())), "n0nce"
        signature = live.wecom.signature(timestamp, nonce, encrypted)
        query = f"msg_signature={signature}&timestamp={timestamp}&nonce={nonce}"
        if method == "GET":
            query += f"&echostr={quote(encrypted, safe='')}"
            raw = request_bytes("GET", b"/wecom/callback?" + query.encode())
        else:
            body = build_envelope(encrypted, to_user=CORP_ID, agent_id=AGENT_ID)
            raw = request_bytes("POST", b"/wecom/callback?" + query.encode(), [], body)
        check(live, raw, tracebacks, signed=True)

    run()
