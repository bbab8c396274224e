"""The callback endpoint over HTTP: URL verification, and every kind of bad request refused
before anything is processed, without a traceback and without a secret in the log."""

from __future__ import annotations

import base64
import logging

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from bot.handlers.wecom.xmlmsg import MAX_XML_BYTES
from storage.records import Channel
from tests.fakes.wecom_api import FakeWeComAPI
from tests.test_wecom_crypto import (
    A_ECHOSTR,
    A_VERIFY_NONCE,
    A_VERIFY_SIGNATURE,
    A_VERIFY_TIMESTAMP,
)
from tests.wecom.callbacks import CallbackCrypto, build_envelope, build_text
from tests.wecom.runner import AES_KEY, AGENT_ID, CORP_ID, SECRET, TOKEN, FakeClock, WeComRunner

pytestmark = pytest.mark.database_neutral

BOMB = (
    b'<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY a "aaaaaaaaaa">'
    b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]><xml><Encrypt>&b;</Encrypt></xml>'
)


async def test_url_verification_with_the_published_vector(
    bot: WeComRunner, clock: FakeClock
) -> None:
    clock.now = int(A_VERIFY_TIMESTAMP) + 20
    params = {
        "msg_signature": A_VERIFY_SIGNATURE,
        "timestamp": A_VERIFY_TIMESTAMP,
        "nonce": A_VERIFY_NONCE,
        "echostr": A_ECHOSTR,  # contains "+" and "/": aiohttp URL-encodes it like WeCom
    }
    assert await bot.get(params) == (200, "1616140317555161061")


async def test_url_verification_with_a_fresh_echostr(bot: WeComRunner) -> None:
    echostr = bot.crypto.encrypt("8211529183371925614")
    status, body = await bot.get({**bot.signed(echostr), "echostr": echostr})
    assert (status, body) == (200, "8211529183371925614")


def padded_wrong(crypto_key: str, body: bytes) -> str:
    """Encrypt ``body`` as is (it already ends in an invalid PKCS#7 pad)."""
    key = base64.b64decode(crypto_key + "=")
    encryptor = Cipher(algorithms.AES(key), modes.CBC(key[:16])).encryptor()
    return base64.b64encode(encryptor.update(body) + encryptor.finalize()).decode()


def authentic(bot: WeComRunner, encrypted: str, *, timestamp: str | None = None) -> dict[str, str]:
    return bot.signed(encrypted, timestamp)


def bad_requests(
    bot: WeComRunner, clock: FakeClock
) -> dict[str, tuple[dict[str, str], bytes, int]]:
    """Each kind of bad POST: (query, body, expected status)."""
    message = build_text("wangjiancha", "/inspect", to_user=CORP_ID, agent_id=AGENT_ID)
    good = bot.crypto.encrypt(message)
    other_corp = CallbackCrypto(TOKEN, AES_KEY, "wwSomeOtherCorp00").encrypt(message)
    bad_pad = padded_wrong(AES_KEY, bytes(31) + b"\x00")
    not_xml = bot.crypto.encrypt(b"this is not xml")
    dtd_inside = bot.crypto.encrypt(BOMB)
    forged = dict(authentic(bot, good))
    forged["msg_signature"] = "0" * 40
    stale = str(int(clock()) - 3600)
    return {
        "bad signature": (forged, build_envelope(good), 403),
        "timestamp too old": (authentic(bot, good, timestamp=stale), build_envelope(good), 403),
        "timestamp not a number": (
            {**authentic(bot, good), "timestamp": "soon"},
            build_envelope(good),
            403,
        ),
        "timestamp of 5000 digits, signed": (
            authentic(bot, good, timestamp="9" * 5000),
            build_envelope(good),
            403,
        ),
        "wrong CorpID": (authentic(bot, other_corp), build_envelope(other_corp), 403),
        "bad padding": (authentic(bot, bad_pad), build_envelope(bad_pad), 400),
        "malformed base64": (
            authentic(bot, "@@not base64@@"),
            build_envelope("@@not base64@@"),
            400,
        ),
        "envelope not XML": (authentic(bot, good), b"<xml><Encrypt>", 400),
        "message not XML": (authentic(bot, not_xml), build_envelope(not_xml), 400),
        "envelope with DTD and entities": (authentic(bot, "&b;"), BOMB, 400),
        "message with DTD and entities": (
            authentic(bot, dtd_inside),
            build_envelope(dtd_inside),
            400,
        ),
        "oversized body": (authentic(bot, good), b"<xml>" + b" " * MAX_XML_BYTES + b"</xml>", 413),
        "missing signature": ({"timestamp": "1", "nonce": "2"}, build_envelope(good), 400),
    }


@pytest.mark.parametrize(
    "kind",
    [
        "bad signature",
        "timestamp too old",
        "timestamp not a number",
        "timestamp of 5000 digits, signed",
        "wrong CorpID",
        "bad padding",
        "malformed base64",
        "envelope not XML",
        "message not XML",
        "envelope with DTD and entities",
        "message with DTD and entities",
        "oversized body",
        "missing signature",
    ],
)
async def test_bad_requests_are_refused_and_nothing_is_processed(
    bot: WeComRunner,
    fake: FakeWeComAPI,
    clock: FakeClock,
    caplog: pytest.LogCaptureFixture,
    kind: str,
) -> None:
    await bot.seed()
    params, body, status = bad_requests(bot, clock)[kind]
    with caplog.at_level(logging.DEBUG):
        answer = await bot.raw_post(params, body)
        await bot.settle()
    assert answer == (status, "")
    assert fake.calls == []
    async with bot.db.read() as tx:
        assert await tx.outbox.pending_count() == 0
        assert not await tx.events.seen(f"{Channel.WECOM.value}:m1")
        assert await tx.conversations.for_person(1) == []
    refusals = [r for r in caplog.records if "refused" in r.getMessage()]
    assert len(refusals) == 1
    assert all(r.exc_info is None for r in caplog.records)
    logged = "\n".join(r.getMessage() for r in caplog.records)
    for secret in (TOKEN, AES_KEY, SECRET):
        assert secret not in logged


async def test_bad_url_verifications_are_refused(
    bot: WeComRunner, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    echostr = bot.crypto.encrypt("42")
    good = {**bot.signed(echostr), "echostr": echostr}
    stale = str(int(clock()) - 3600)
    other = CallbackCrypto(TOKEN, AES_KEY, "wwSomeOtherCorp00").encrypt("42")
    cases = [
        ({**good, "msg_signature": "f" * 40}, 403),
        ({**bot.signed(echostr, stale), "echostr": echostr}, 403),
        ({**good, "timestamp": "9" * 5000}, 403),  # checked before the signature
        ({**bot.signed(echostr, "1" * 5000), "echostr": echostr}, 403),
        ({**good, "timestamp": "１２３"}, 403),  # fullwidth digits
        ({**bot.signed(other), "echostr": other}, 403),
        ({**bot.signed("%%%"), "echostr": "%%%"}, 400),
        ({k: v for k, v in good.items() if k != "echostr"}, 400),
        ({k: v for k, v in good.items() if k != "nonce"}, 400),
    ]
    with caplog.at_level(logging.DEBUG):
        for params, status in cases:
            assert await bot.get(params) == (status, "")
    assert all(r.exc_info is None for r in caplog.records)
    assert await bot.get(good) == (200, "42")


async def test_callbacks_for_another_agent_are_ignored(
    bot: WeComRunner, fake: FakeWeComAPI
) -> None:
    await bot.seed()
    message = build_text("wangjiancha", "/inspect", to_user=CORP_ID, agent_id=AGENT_ID + 1)
    assert await bot.post(message) == (200, "")
    await bot.settle()
    assert fake.sent_to("wangjiancha") == []


async def test_stopping_bot_asks_wecom_to_come_back_later(
    bot: WeComRunner, fake: FakeWeComAPI
) -> None:
    await bot.seed()
    await bot.channel.stop()
    message = build_text("wangjiancha", "/inspect", to_user=CORP_ID, agent_id=AGENT_ID)
    assert (await bot.post(message))[0] == 503
    await bot.channel.start()
    assert await bot.post(message) == (200, "")
    await bot.settle()
    assert fake.sent_to("wangjiancha")
