"""`pinjian run` as an operator runs it: refuses an unknown schema, starts, stops on SIGTERM,
and never prints a secret."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
import uvloop

from bot.cli.run_cmd import new_event_loop
from bot.logs import redact

TOKEN = "123456789:AAHsecretsecretsecretsecretsecret99"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _env(data_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PINJIAN_")}
    env.update(PINJIAN_DATA_DIR=str(data_dir), PINJIAN_HTTP_PORT=str(_free_port()), **extra)
    return env


def _pinjian(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_run_refuses_a_database_without_the_schema(tmp_path: Path) -> None:
    env = _env(tmp_path)
    (tmp_path / "pinjian.db").write_bytes(b"")
    result = _pinjian("run", env=env)
    assert result.returncode == 2
    assert "pinjian db upgrade" in result.stdout
    assert "Traceback" not in result.stdout + result.stderr


def test_run_starts_and_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    env = _env(tmp_path)
    assert _pinjian("db", "upgrade", env=env).returncode == 0
    process = subprocess.Popen(
        [sys.executable, "-m", "bot", "run"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        url = f"http://127.0.0.1:{env['PINJIAN_HTTP_PORT']}/healthz"
        while True:
            try:
                with urllib.request.urlopen(url, timeout=1) as response:
                    assert response.status == 200
                break
            except OSError:
                assert process.poll() is None, process.communicate()
                assert time.monotonic() < deadline
                time.sleep(0.1)
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0
    assert "品检已启动" in out
    assert "正在停止" in out
    assert "Traceback" not in out + err


def test_unreachable_telegram_is_one_line_without_the_token(tmp_path: Path) -> None:
    env = _env(
        tmp_path,
        PINJIAN_TELEGRAM_TOKEN=TOKEN,
        PINJIAN_TELEGRAM_API_URL="http://127.0.0.1:9/bot",
        PINJIAN_TELEGRAM_FILE_URL="http://127.0.0.1:9/file/bot",
    )
    assert _pinjian("db", "upgrade", env=env).returncode == 0
    result = _pinjian("run", env=env)
    assert result.returncode == 2
    assert "无法连接 Telegram" in result.stdout
    assert "Traceback" not in result.stdout + result.stderr
    assert TOKEN.split(":")[1] not in result.stdout + result.stderr


def test_log_redaction_masks_tokens_and_passwords() -> None:
    line = (
        f"POST https://api.telegram.org/bot{TOKEN}/getMe "
        "https://qyapi.weixin.qq.com/cgi-bin/gettoken?corpid=x&corpsecret=s3cr3t "
        "postgresql+asyncpg://user:hunter2@db:5432/pinjian"
    )
    masked = redact(line)
    assert TOKEN.split(":")[1] not in masked
    assert "s3cr3t" not in masked
    assert "hunter2" not in masked
    assert "corpsecret=***" in masked


def test_a_webhook_secret_telegram_would_refuse_is_one_line_naming_the_setting(
    tmp_path: Path,
) -> None:
    secret = "不合格的 secret!"
    env = _env(
        tmp_path,
        PINJIAN_TELEGRAM_TOKEN=TOKEN,
        PINJIAN_TELEGRAM_WEBHOOK_URL="https://bot.example.invalid/telegram/webhook",
        PINJIAN_TELEGRAM_WEBHOOK_SECRET=secret,
    )
    result = _pinjian("run", env=env)
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert "PINJIAN_TELEGRAM_WEBHOOK_SECRET" in output
    assert "Traceback" not in output
    assert secret not in output


def test_log_redaction_masks_the_webhook_secret() -> None:
    """python-telegram-bot logs setWebhook's parameters at DEBUG, the secret among them."""
    secret = "0f3a9c" * 10
    line = (
        "Calling Bot API endpoint `setWebhook` with parameters `{'url': "
        f"'https://bot.example/telegram/webhook', 'secret_token': '{secret}', "
        "'allowed_updates': ['message', 'callback_query']}`"
    )
    masked = redact(line)
    assert secret not in masked
    assert "'secret_token': '***'" in masked


def test_run_uses_uvloops_event_loop_and_asyncios_without_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`pinjian run` (and every async test) runs on uvloop's loop (docs/BENCHMARKS.md); where
    uvloop is not installed (Windows), on asyncio's own."""
    loop = new_event_loop()
    try:
        assert isinstance(loop, uvloop.Loop)
    finally:
        loop.close()
    monkeypatch.setitem(sys.modules, "uvloop", None)
    loop = new_event_loop()
    try:
        assert not isinstance(loop, uvloop.Loop)
        assert isinstance(loop, asyncio.BaseEventLoop)
    finally:
        loop.close()
