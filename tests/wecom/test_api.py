"""The API client against the fake WeCom API: token caching and refresh, error handling, and
no secret in any error or log line."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import pytest

from bot.handlers.wecom.api import MediaTooLarge, WeComAPI, WeComAPIError
from tests.fakes.wecom_api import FakeWeComAPI
from tests.wecom.runner import AGENT_ID, CORP_ID, SECRET, FakeClock

pytestmark = pytest.mark.database_neutral

TEXT = {"msgtype": "text", "text": {"content": "你好"}}


@pytest.fixture
async def api(fake: FakeWeComAPI, clock: FakeClock) -> AsyncIterator[WeComAPI]:
    client = WeComAPI(fake.url, CORP_ID, SECRET, AGENT_ID, clock=clock)
    await client.start()
    yield client
    await client.close()


async def test_token_is_cached_until_shortly_before_expiry(
    api: WeComAPI, fake: FakeWeComAPI, clock: FakeClock
) -> None:
    await api.send("u1", TEXT)
    await api.send("u1", TEXT)
    assert fake.calls.count("/cgi-bin/gettoken") == 1
    clock.advance(7200 - 301)
    await api.send("u1", TEXT)
    assert fake.calls.count("/cgi-bin/gettoken") == 1
    clock.advance(2)
    await api.send("u1", TEXT)
    assert fake.calls.count("/cgi-bin/gettoken") == 2
    assert [m.content for m in fake.sent_to("u1")] == ["你好"] * 4


@pytest.mark.parametrize("errcode", [40014, 42001])
async def test_token_refused_is_fetched_again_with_one_retry(
    api: WeComAPI, fake: FakeWeComAPI, errcode: int
) -> None:
    await api.send("u1", TEXT)
    fake.fail_next(errcode)
    await api.send("u1", TEXT)
    assert fake.calls == [
        "/cgi-bin/gettoken",
        "/cgi-bin/message/send",
        "/cgi-bin/message/send",
        "/cgi-bin/gettoken",
        "/cgi-bin/message/send",
    ]
    calls = len(fake.calls)
    fake.fail_next(errcode, n=2)  # the call, and the token fetched for its retry
    with pytest.raises(WeComAPIError) as raised:
        await api.send("u1", TEXT)
    assert raised.value.retryable  # the outbox tries again later
    assert fake.calls[calls:] == ["/cgi-bin/message/send", "/cgi-bin/gettoken"]


async def test_expired_token_on_media_download(api: WeComAPI, fake: FakeWeComAPI) -> None:
    media_id = fake.add_media(b"\xff\xd8\xff photo", "image/jpeg", "p.jpg")
    await api.access_token()
    fake.expire_tokens()
    media = await api.get_media(media_id, max_bytes=1024)
    assert (media.data, media.content_type, media.filename) == (
        b"\xff\xd8\xff photo",
        "image/jpeg",
        "p.jpg",
    )
    assert fake.calls.count("/cgi-bin/gettoken") == 2
    with pytest.raises(MediaTooLarge):
        await api.get_media(media_id, max_bytes=4)
    with pytest.raises(WeComAPIError) as unknown:
        await api.get_media("nope", max_bytes=1024)
    assert (unknown.value.errcode, unknown.value.retryable) == (40007, False)


@pytest.mark.parametrize(
    ("errcode", "retryable", "retry_after"),
    [
        (-1, True, None),
        (45009, True, 60.0),
        (45033, True, 5.0),
        (60020, True, 300.0),
        (40058, False, None),
        (44004, False, None),
        (81013, False, None),
    ],
)
async def test_errors_say_whether_retrying_helps(
    api: WeComAPI,
    fake: FakeWeComAPI,
    caplog: pytest.LogCaptureFixture,
    errcode: int,
    retryable: bool,
    retry_after: float | None,
) -> None:
    await api.access_token()
    fake.fail_next(errcode)
    with caplog.at_level(logging.INFO), pytest.raises(WeComAPIError) as raised:
        await api.send("u1", TEXT)
    error = raised.value
    assert (error.errcode, error.retryable, error.retry_after) == (errcode, retryable, retry_after)
    assert f"errcode {errcode}" in str(error)
    assert f"errcode {errcode}" in caplog.text


async def test_secrets_never_in_errors_or_logs(
    fake: FakeWeComAPI, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    wrong = WeComAPI(fake.url, CORP_ID, "wrong-secret-value", AGENT_ID, clock=clock)
    right = WeComAPI(fake.url, CORP_ID, SECRET, AGENT_ID, clock=clock)
    unreachable = WeComAPI("http://127.0.0.1:9", CORP_ID, SECRET, AGENT_ID, clock=clock)
    errors = []
    with caplog.at_level(logging.DEBUG):
        for client in (wrong, right, unreachable):
            await client.start()
        with pytest.raises(WeComAPIError) as bad_secret:
            await wrong.send("u1", TEXT)
        errors.append(str(bad_secret.value))
        token = await right.access_token()
        fake.fail_next(40058)
        with pytest.raises(WeComAPIError) as rejected:
            await right.send("u1", TEXT)
        errors.append(str(rejected.value))
        # A request that carries the token to a server that does not answer.
        unreachable._token, unreachable._token_expires = token, clock() + 3600
        with pytest.raises(WeComAPIError) as network:
            await unreachable.send("u1", TEXT)
        errors.append(str(network.value))
        for client in (wrong, right, unreachable):
            await client.close()
    assert bad_secret.value.errcode == 40001 and bad_secret.value.retryable
    assert network.value.retryable and network.value.errcode is None
    everything = "\n".join(errors) + caplog.text
    for secret in (SECRET, "wrong-secret-value", token):
        assert secret not in everything


async def test_upload_keeps_a_chinese_file_name(api: WeComAPI, fake: FakeWeComAPI) -> None:
    media_id = await api.upload_media(
        "file", b"%PDF-1.7 report", "检查报告_阳光花园.pdf", "application/pdf"
    )
    assert fake.media[media_id].filename == "检查报告_阳光花园.pdf"
    assert fake.media[media_id].data == b"%PDF-1.7 report"
