"""The web chat's HTTP entries under hostile input: whatever arrives, the answer is never a
5xx and never a traceback, and a refused request (4xx) changes no row of any table."""

from __future__ import annotations

import asyncio

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.security.conftest import LiveBot, TracebackLog
from tests.security.hostile import (
    HOSTILE,
    encoded,
    header_values,
    json_bodies,
    multipart,
    multipart_parts,
    queries,
    segments,
    texts,
)
from tests.security.rawhttp import Answer, request_bytes

ENTRIES = [
    b"/",
    b"/chat",
    b"/static/",
    b"/healthz",
    b"/api/me",
    b"/api/send",
    b"/api/upload",
    b"/api/events",
    b"/api/files/",
    b"/api/files/" + b"0" * 64,
]
METHODS = ["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"]


def authorization(live: LiveBot) -> st.SearchStrategy[list[tuple[bytes, bytes]]]:
    """No Authorization header, a valid one, or anything else in it."""
    token = live.tokens["王检查"].encode()
    value = st.one_of(
        st.just(b"Bearer " + token),
        st.just(b"bearer   " + token + b" "),
        header_values,
        header_values.map(lambda v: b"Bearer " + v),
        st.just(b"Bearer " + token[:-1] + b"\xff"),
    )
    return st.one_of(st.just([]), value.map(lambda v: [(b"Authorization", v)]))


def signed_in(live: LiveBot) -> list[tuple[bytes, bytes]]:
    return [(b"Authorization", b"Bearer " + live.tokens["王检查"].encode())]


def refused_without_trace(live: LiveBot, raw: bytes, tracebacks: TracebackLog) -> Answer:
    """Send ``raw``: never a 5xx; a 4xx leaves every table as it was."""
    tracebacks.records.clear()
    live.settle()  # what earlier requests started has finished
    before = live.counts()
    answer = live.send(raw)
    assert answer.status < 500, (raw[:300], answer)
    if answer.status >= 400:
        assert live.counts() == before, raw[:300]
    assert not tracebacks.records, tracebacks.records[0].getMessage()
    return answer


def test_any_request_to_any_entry(live: LiveBot, tracebacks: TracebackLog) -> None:
    """Paths, methods, headers (Authorization, X-Message-Id, Content-Type), query strings
    and bodies of any bytes against every entry, signed in or not."""

    @HOSTILE
    @given(
        method=st.sampled_from(METHODS),
        entry=st.sampled_from(ENTRIES),
        suffix=st.one_of(st.just(b""), segments, segments.map(lambda s: b"/" + s)),
        query=queries(["after", "t", "id"]),
        auth=authorization(live),
        extra=st.lists(
            st.tuples(
                st.one_of(
                    st.sampled_from([b"X-Message-Id", b"Content-Type", b"Accept", b"Range"]),
                    header_values.map(lambda name: name.replace(b":", b"") or b"X"),
                ),
                header_values,
            ),
            max_size=3,
        ),
        body=encoded,
    )
    def run(
        method: str,
        entry: bytes,
        suffix: bytes,
        query: bytes,
        auth: list[tuple[bytes, bytes]],
        extra: list[tuple[bytes, bytes]],
        body: bytes,
    ) -> None:
        target = entry + suffix + (b"?" + query if query else b"")
        answer = refused_without_trace(
            live, request_bytes(method, target, auth + extra, body), tracebacks
        )
        if not auth and entry.startswith(b"/api/") and answer.status < 400:
            raise AssertionError(f"{target!r} answered {answer.status} without a token")

    run()


def test_send_bodies(live: LiveBot, tracebacks: TracebackLog) -> None:
    """POST /api/send signed in, with JSON of any shape (texts with lone surrogates and NULs
    among them), JSON nested thousands deep, and bytes that are not JSON."""
    keys = {
        "id": st.one_of(st.uuids().map(lambda u: u.hex), texts),
        "kind": st.one_of(st.sampled_from(["text", "button", "command"]), texts),
        "text": texts,
        "payload": texts,
        "command": texts,
    }

    @HOSTILE
    @given(
        body=json_bodies(keys), content_type=st.one_of(st.just(b"application/json"), header_values)
    )
    def run(body: bytes, content_type: bytes) -> None:
        headers = [*signed_in(live), (b"Content-Type", content_type)]
        refused_without_trace(live, request_bytes("POST", b"/api/send", headers, body), tracebacks)

    run()


# aiohttp warns about each Content-Disposition header it cannot read, as it should.
@pytest.mark.filterwarnings("ignore::aiohttp.multipart.BadContentDispositionHeader")
def test_upload_bodies(live: LiveBot, tracebacks: TracebackLog) -> None:
    """POST /api/upload signed in, with multipart bodies of any parts, names and contents,
    boundaries that do not match, and bodies that are not multipart at all."""

    @HOSTILE
    @given(
        boundary=st.sampled_from([b"XyZ", b"", b"a" * 80]),
        declared=st.one_of(st.just(b"XyZ"), header_values),
        parts=multipart_parts(),
        message_id=st.one_of(st.uuids().map(lambda u: u.hex.encode()), header_values),
        raw=st.one_of(st.none(), encoded),
    )
    def run(
        boundary: bytes,
        declared: bytes,
        parts: list[tuple[bytes, bytes, bytes]],
        message_id: bytes,
        raw: bytes | None,
    ) -> None:
        body = raw if raw is not None else multipart(boundary, parts)
        headers = [
            *signed_in(live),
            (b"Content-Type", b"multipart/form-data; boundary=" + declared),
            (b"X-Message-Id", message_id),
        ]
        refused_without_trace(
            live, request_bytes("POST", b"/api/upload", headers, body), tracebacks
        )

    run()


def test_files_and_event_streams(live: LiveBot, tracebacks: TracebackLog) -> None:
    """GET /api/files/<anything> and /api/events?after=<anything>, signed in."""

    @HOSTILE
    @given(
        target=st.one_of(
            segments.map(lambda s: b"/api/files/" + s),
            st.text("0123456789abcdefABCDEF", min_size=60, max_size=70).map(
                lambda s: b"/api/files/" + s.encode()
            ),
            queries(["after"]).map(lambda q: b"/api/events?" + q),
            segments.map(lambda s: b"/api/events?after=" + s),
        )
    )
    def run(target: bytes) -> None:
        refused_without_trace(live, request_bytes("GET", target, signed_in(live)), tracebacks)

    run()


def test_requests_abandoned_halfway_leave_one_line(live: LiveBot, tracebacks: TracebackLog) -> None:
    """A client that sends part of a body and hangs up: nothing changes and the log gets a
    line, not a traceback."""
    signed = b"Authorization: Bearer " + live.tokens["王检查"].encode()
    secret = b"X-Telegram-Bot-Api-Secret-Token: " + live.telegram_secret.encode()
    live.settle()  # what earlier requests started has finished
    before = live.counts()
    for target, header in (
        (b"/api/send", signed),
        (
            b"/api/upload",
            signed + b"\r\nX-Message-Id: m1\r\nContent-Type: multipart/form-data; boundary=B",
        ),
        (b"/telegram/webhook", secret),
        (b"/wecom/callback?msg_signature=a&timestamp=1&nonce=2", b"X-Any: 1"),
    ):
        head = b"POST " + target + b" HTTP/1.1\r\nHost: x\r\n" + header
        live.run(hang_up(live.port, head + b"\r\nContent-Length: 5000\r\n\r\n" + b"{" * 100))
        live.run(hang_up(live.port, head + b"\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab"))
    assert live.counts() == before
    assert not tracebacks.records, tracebacks.records[0].getMessage()


async def hang_up(port: int, raw: bytes) -> None:
    _, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(raw)
    await writer.drain()
    await asyncio.sleep(0.05)
    writer.close()
    await asyncio.sleep(0.1)


def test_an_upload_part_with_a_header_http_forbids(live: LiveBot, tracebacks: TracebackLog) -> None:
    """Found by the fuzzing above: aiohttp's multipart reader raises its own 400 error for a
    part header with a NUL; the upload is refused, not a 500."""
    body = multipart(b"XyZ", [(b'name="file"', b"Content-Type: \x00", b"\x89PNG\r\n\x1a\n")])
    headers = [
        *signed_in(live),
        (b"Content-Type", b"multipart/form-data; boundary=XyZ"),
        (b"X-Message-Id", b"m1"),
    ]
    answer = refused_without_trace(
        live, request_bytes("POST", b"/api/upload", headers, body), tracebacks
    )
    assert answer.status == 400
