"""Tests of the fake WeCom API itself, driven with a plain aiohttp client."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from tests.fakes.wecom_api import MAX_CONTENT_BYTES, FakeWeComAPI

CORP_ID = "ww_fake_corp"
SECRET = "fake-app-secret"
AGENT_ID = 1000002


class FakeClock:
    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def fake(clock: FakeClock) -> AsyncIterator[FakeWeComAPI]:
    async with FakeWeComAPI(CORP_ID, SECRET, agent_id=AGENT_ID, clock=clock) as api:
        yield api


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def get_json(http: aiohttp.ClientSession, url: str, **params: str) -> dict[str, Any]:
    async with http.get(url, params=params) as resp:
        assert resp.status == 200
        data: dict[str, Any] = await resp.json()
        return data


async def post_json(
    http: aiohttp.ClientSession, url: str, token: str, body: dict[str, Any]
) -> dict[str, Any]:
    async with http.post(url, params={"access_token": token}, json=body) as resp:
        assert resp.status == 200
        data: dict[str, Any] = await resp.json()
        return data


async def get_token(fake: FakeWeComAPI, http: aiohttp.ClientSession) -> str:
    data = await get_json(http, f"{fake.url}/cgi-bin/gettoken", corpid=CORP_ID, corpsecret=SECRET)
    assert data["errcode"] == 0
    token: str = data["access_token"]
    return token


async def send(
    fake: FakeWeComAPI, http: aiohttp.ClientSession, token: str, body: dict[str, Any]
) -> dict[str, Any]:
    return await post_json(
        http, f"{fake.url}/cgi-bin/message/send", token, {"agentid": AGENT_ID, **body}
    )


def text(userid: str, content: str) -> dict[str, Any]:
    return {"touser": userid, "msgtype": "text", "text": {"content": content}}


def button_card(task_id: str, keys: list[str]) -> dict[str, Any]:
    return {
        "touser": "inspector1",
        "msgtype": "template_card",
        "template_card": {
            "card_type": "button_interaction",
            "main_title": {"title": "楼栋 3 保洁检查"},
            "task_id": task_id,
            "button_list": [{"text": f"选项{i}", "style": 1, "key": k} for i, k in enumerate(keys)],
        },
    }


async def test_gettoken_checks_credentials(fake: FakeWeComAPI, http: aiohttp.ClientSession) -> None:
    url = f"{fake.url}/cgi-bin/gettoken"
    wrong_secret = await get_json(http, url, corpid=CORP_ID, corpsecret="nope")
    assert wrong_secret["errcode"] == 40001
    assert set(wrong_secret) == {"errcode", "errmsg"}
    assert (await get_json(http, url, corpid="other", corpsecret=SECRET))["errcode"] == 40013
    assert (await get_json(http, url, corpid=CORP_ID))["errcode"] == 41004

    ok = await get_json(http, url, corpid=CORP_ID, corpsecret=SECRET)
    assert ok["errcode"] == 0
    assert ok["expires_in"] == 7200
    assert ok["access_token"]
    again = await get_json(http, url, corpid=CORP_ID, corpsecret=SECRET)
    assert again["access_token"] == ok["access_token"]


async def test_token_expiry_gives_42001_until_refetched(
    fake: FakeWeComAPI, http: aiohttp.ClientSession, clock: FakeClock
) -> None:
    token = await get_token(fake, http)
    assert (await send(fake, http, token, text("u1", "hi")))["errcode"] == 0

    fake.expire_tokens()
    assert (await send(fake, http, token, text("u1", "hi")))["errcode"] == 42001
    fresh = await get_token(fake, http)
    assert fresh != token
    assert (await send(fake, http, fresh, text("u1", "hi")))["errcode"] == 0

    clock.now += 7200
    assert (await send(fake, http, fresh, text("u1", "hi")))["errcode"] == 42001
    assert fake.calls.count("/cgi-bin/gettoken") == 2
    assert fake.calls.count("/cgi-bin/message/send") == 4


async def test_missing_or_unknown_token(fake: FakeWeComAPI, http: aiohttp.ClientSession) -> None:
    assert (await send(fake, http, "", text("u1", "hi")))["errcode"] == 41001
    assert (await send(fake, http, "bogus", text("u1", "hi")))["errcode"] == 40014


async def test_fail_next_injects_errors(fake: FakeWeComAPI, http: aiohttp.ClientSession) -> None:
    token = await get_token(fake, http)
    fake.fail_next(-1, n=2)
    assert (await send(fake, http, token, text("u1", "a")))["errcode"] == -1
    busy = await send(fake, http, token, text("u1", "b"))
    assert busy == {"errcode": -1, "errmsg": "system busy"}
    assert (await send(fake, http, token, text("u1", "c")))["errcode"] == 0
    assert [m.content for m in fake.sent_to("u1")] == ["c"]


async def test_send_text_and_markdown(fake: FakeWeComAPI, http: aiohttp.ClientSession) -> None:
    token = await get_token(fake, http)
    result = await send(fake, http, token, text("u1|u2", "检查开始"))
    assert result["errcode"] == 0
    assert result["msgid"]
    assert "response_code" not in result
    assert [m.content for m in fake.sent_to("u2")] == ["检查开始"]

    md = {"touser": "u1", "msgtype": "markdown", "markdown": {"content": "**得分** 95"}}
    assert (await send(fake, http, token, md))["errcode"] == 0
    assert [(m.msgtype, m.content) for m in fake.sent_to("u1")] == [
        ("text", "检查开始"),
        ("markdown", "**得分** 95"),
    ]

    long_text = "检" * 1000  # 3000 UTF-8 bytes: WeCom truncates to 2048
    assert (await send(fake, http, token, text("u3", long_text)))["errcode"] == 0
    delivered = fake.sent_to("u3")[0].content
    assert delivered is not None
    assert len(delivered.encode()) <= MAX_CONTENT_BYTES
    assert long_text.startswith(delivered)

    assert (await send(fake, http, token, text("u1", "")))["errcode"] == 44004
    assert (await send(fake, http, token, {"touser": "u1", "msgtype": "voice"}))["errcode"] == 40008
    no_agent = await post_json(http, f"{fake.url}/cgi-bin/message/send", token, text("u1", "x"))
    assert no_agent["errcode"] == 41011


async def test_button_card_and_one_use_update(
    fake: FakeWeComAPI, http: aiohttp.ClientSession
) -> None:
    token = await get_token(fake, http)
    result = await send(fake, http, token, button_card("insp-42_a@b", ["pass", "fail"]))
    assert result["errcode"] == 0
    code = result["response_code"]
    assert fake.sent_to("inspector1")[0].task_id == "insp-42_a@b"

    update_url = f"{fake.url}/cgi-bin/message/update_template_card"
    update = {
        "userids": ["inspector1"],
        "agentid": AGENT_ID,
        "response_code": code,
        "button": {"replace_name": "已通过"},
    }
    assert (await post_json(http, update_url, token, update))["errcode"] == 0
    assert [(u.task_id, u.body["button"]["replace_name"]) for u in fake.card_updates] == [
        ("insp-42_a@b", "已通过")
    ]
    assert (await post_json(http, update_url, token, update))["errcode"] == 60140
    unknown = {**update, "response_code": "never-issued"}
    assert (await post_json(http, update_url, token, unknown))["errcode"] == 60140

    clicked = fake.issue_response_code("insp-42_a@b")
    assert (await post_json(http, update_url, token, {**update, "response_code": clicked}))[
        "errcode"
    ] == 0


@pytest.mark.parametrize(
    ("task_id", "keys", "errcode"),
    [
        ("t1", [f"k{i}" for i in range(7)], 40058),
        ("t1", [], 40058),
        ("t1", ["k", "k"], 42018),
        ("t1", ["k" * 1025], 42018),
        ("t1", [""], 42019),
        ("bad task id", ["k"], 42014),
        ("t" * 129, ["k"], 42014),
    ],
)
async def test_button_card_validation(
    fake: FakeWeComAPI,
    http: aiohttp.ClientSession,
    task_id: str,
    keys: list[str],
    errcode: int,
) -> None:
    token = await get_token(fake, http)
    assert (await send(fake, http, token, button_card(task_id, keys)))["errcode"] == errcode
    assert fake.sent_to("inspector1") == []


async def test_button_card_limits_accepted(fake: FakeWeComAPI, http: aiohttp.ClientSession) -> None:
    token = await get_token(fake, http)
    keys = [f"{i}" + "k" * 1023 for i in range(6)]
    assert (await send(fake, http, token, button_card("t" * 128, keys)))["errcode"] == 0
    duplicate = await send(fake, http, token, button_card("t" * 128, ["k"]))
    assert duplicate["errcode"] == 42014


async def test_upload_and_get_media_round_trip(
    fake: FakeWeComAPI, http: aiohttp.ClientSession
) -> None:
    token = await get_token(fake, http)
    png = b"\x89PNG\r\n\x1a\n" + bytes(range(256))
    form = aiohttp.FormData()
    form.add_field("media", png, filename="photo.png", content_type="image/png")
    async with http.post(
        f"{fake.url}/cgi-bin/media/upload",
        params={"access_token": token, "type": "image"},
        data=form,
    ) as resp:
        uploaded = await resp.json()
    assert uploaded["errcode"] == 0
    assert uploaded["type"] == "image"

    async with http.get(
        f"{fake.url}/cgi-bin/media/get",
        params={"access_token": token, "media_id": uploaded["media_id"]},
    ) as resp:
        assert resp.content_type == "image/png"
        assert 'filename="photo.png"' in resp.headers["Content-Disposition"]
        assert await resp.read() == png

    user_photo = fake.add_media(b"\xff\xd8\xff jpeg", "image/jpeg")
    async with http.get(
        f"{fake.url}/cgi-bin/media/get", params={"access_token": token, "media_id": user_photo}
    ) as resp:
        assert resp.content_type == "image/jpeg"
        assert await resp.read() == b"\xff\xd8\xff jpeg"

    unknown = await get_json(
        http, f"{fake.url}/cgi-bin/media/get", access_token=token, media_id="nope"
    )
    assert unknown["errcode"] == 40007

    image_msg = {"touser": "u1", "msgtype": "image", "image": {"media_id": user_photo}}
    assert (await send(fake, http, token, image_msg))["errcode"] == 0
    bad_image = {"touser": "u1", "msgtype": "image", "image": {"media_id": "nope"}}
    assert (await send(fake, http, token, bad_image))["errcode"] == 40007


async def test_upload_rejections(fake: FakeWeComAPI, http: aiohttp.ClientSession) -> None:
    token = await get_token(fake, http)
    url = f"{fake.url}/cgi-bin/media/upload"

    async def upload(media_type: str, data: bytes) -> int:
        form = aiohttp.FormData()
        # BytesIO: aiohttp warns about large raw-bytes bodies.
        form.add_field("media", io.BytesIO(data), filename="f.bin", content_type="application/pdf")
        async with http.post(
            url, params={"access_token": token, "type": media_type}, data=form
        ) as resp:
            errcode: int = (await resp.json())["errcode"]
            return errcode

    assert await upload("sticker", b"data") == 40005
    assert await upload("file", b"") == 44001
    assert await upload("voice", b"x" * (2 * 1024 * 1024 + 1)) == 45001
    assert await upload("file", b"%PDF-1.7 report") == 0


async def test_member_limit_drops_the_31st_message_within_a_minute(
    fake: FakeWeComAPI, http: aiohttp.ClientSession, clock: FakeClock
) -> None:
    token = await get_token(fake, http)
    fake.enforce_member_limit(True)
    for i in range(31):
        result = await send(fake, http, token, text("busy", f"m{i}"))
        assert result["errcode"] == 0  # WeCom reports success even when it drops
        clock.now += 1
    log = fake.sent_to("busy")
    assert [m.dropped for m in log] == [False] * 30 + [True]
    assert log[-1].content == "m30"
    assert [m.at for m in log] == [1_700_000_000.0 + i for i in range(31)]

    # Another member is unaffected; the window slides after a minute.
    assert (await send(fake, http, token, text("other", "x")))["errcode"] == 0
    assert not fake.sent_to("other")[0].dropped
    clock.now += 60
    await send(fake, http, token, text("busy", "later"))
    assert not fake.sent_to("busy")[-1].dropped


async def test_member_limit_off_by_default(fake: FakeWeComAPI, http: aiohttp.ClientSession) -> None:
    token = await get_token(fake, http)
    for i in range(35):
        await send(fake, http, token, text("busy", f"m{i}"))
    assert not any(m.dropped for m in fake.sent_to("busy"))


async def test_url_requires_running_server() -> None:
    with pytest.raises(RuntimeError):
        _ = FakeWeComAPI(CORP_ID, SECRET).url


async def robot_send(
    http: aiohttp.ClientSession, fake: FakeWeComAPI, key: str, body: dict[str, Any]
) -> int:
    async with http.post(f"{fake.url}/cgi-bin/webhook/send", params={"key": key}, json=body) as r:
        assert r.status == 200
        return int((await r.json())["errcode"])


async def test_group_robot_webhook_limits_and_removed_robots(
    fake: FakeWeComAPI, http: aiohttp.ClientSession, clock: FakeClock
) -> None:
    fake.add_robot("k1")
    text = {"msgtype": "text", "text": {"content": "你好", "mentioned_list": ["zhangsan"]}}
    for _ in range(20):
        assert await robot_send(http, fake, "k1", text) == 0
    assert await robot_send(http, fake, "k1", text) == 45009  # 20 a minute per robot
    clock.now += 60
    assert await robot_send(http, fake, "k1", text) == 0
    assert len(fake.posted("k1")) == 21 and fake.posted("k1")[0].mentioned == ("zhangsan",)
    bad_md5 = {"msgtype": "image", "image": {"base64": "aGk=", "md5": "0" * 32}}
    assert await robot_send(http, fake, "k1", bad_md5) == 40058
    fake.remove_robot("k1")
    assert await robot_send(http, fake, "k1", text) == 93000
    assert await robot_send(http, fake, "never", text) == 93000
