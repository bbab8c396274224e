"""The running bot (bot.app) with WeCom configured: the callback on the shared HTTP server, the
WeCom outbox worker, and a clean stop."""

from __future__ import annotations

import asyncio
import socket
import time
from pathlib import Path

import aiohttp
import pytest

from bot import app
from bot.config import Settings
from storage.migrate import upgrade
from storage.records import Channel, Role
from tests.fakes.wecom_api import FakeWeComAPI
from tests.wecom.callbacks import CallbackCrypto, build_envelope, build_text
from tests.wecom.runner import AES_KEY, AGENT_ID, CORP_ID, SECRET, TOKEN

pytestmark = pytest.mark.database_neutral


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def settings_for(tmp_path: Path, api_url: str, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "_env_file": None,
        "data_dir": tmp_path / "data",
        "http_host": "127.0.0.1",
        "http_port": free_port(),
        "web_enabled": False,
        "log_level": "WARNING",
        "wecom_corp_id": CORP_ID,
        "wecom_agent_id": AGENT_ID,
        "wecom_secret": SECRET,
        "wecom_token": TOKEN,
        "wecom_aes_key": AES_KEY,
        "wecom_api_url": api_url,
        **overrides,
    }
    return Settings(**values)  # type: ignore[arg-type]


async def test_bot_serves_wecom_when_configured(tmp_path: Path) -> None:
    async with FakeWeComAPI(CORP_ID, SECRET, agent_id=AGENT_ID) as fake:
        settings = settings_for(tmp_path, fake.url)
        assert settings.wecom_enabled
        settings.data_dir.mkdir(parents=True)
        await upgrade(settings.resolved_database_url)
        runtime = await app.start(settings)
        try:
            assert runtime.wecom is not None and Channel.WECOM in runtime.workers
            async with runtime.db.transaction() as tx:
                site = await tx.sites.create("阳光花园", timezone="Asia/Shanghai")
                person = await tx.people.create("王检查")
                await tx.roles.grant(person.id, site.id, Role.INSPECTOR)
                await tx.identities.bind(person.id, Channel.WECOM, "wang", chat_id="wang")
            crypto = CallbackCrypto(TOKEN, AES_KEY, CORP_ID)
            url = f"http://127.0.0.1:{settings.http_port}/wecom/callback"
            encrypted = crypto.encrypt(build_text("wang", "/help", to_user=CORP_ID))
            timestamp, nonce = str(int(time.time())), "n1"
            params = {
                "msg_signature": crypto.signature(timestamp, nonce, encrypted),
                "timestamp": timestamp,
                "nonce": nonce,
            }
            async with aiohttp.ClientSession() as http:
                echostr = crypto.encrypt("echo-1")
                verify = {
                    "msg_signature": crypto.signature(timestamp, nonce, echostr),
                    "timestamp": timestamp,
                    "nonce": nonce,
                    "echostr": echostr,
                }
                async with http.get(url, params=verify) as resp:
                    assert (resp.status, await resp.text()) == (200, "echo-1")
                async with http.post(url, params=params, data=build_envelope(encrypted)) as resp:
                    assert (resp.status, await resp.text()) == (200, "")
            for _ in range(200):
                if fake.sent_to("wang"):
                    break
                await asyncio.sleep(0.05)
            assert "**检查**　开始检查（/inspect）" in (fake.sent_to("wang")[0].content or "")
        finally:
            await app.stop(runtime)


def test_partial_wecom_settings_leave_the_channel_off(tmp_path: Path) -> None:
    settings = settings_for(tmp_path, "http://127.0.0.1:9", wecom_agent_id="")
    assert settings.wecom_agent_id is None
    assert settings.wecom_missing == ["PINJIAN_WECOM_AGENT_ID"]
    assert not settings.wecom_enabled
