"""Ctrl-C on `pinjian run` (what `make run` starts) after report files were rendered: the
terminal sends SIGINT to the whole foreground process group, the report worker process
included. The bot stops cleanly and nothing prints a traceback."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

from bot.handlers.web.links import issue_login
from storage.db import Database
from storage.evidence import FileEvidenceStore
from tests.reports import data
from tests.test_run_process import _env, _pinjian


async def _completed_inspection_and_manager_login(data_dir: Path) -> str:
    """A completed inspection of 阳光花园 and a web sign-in token for its manager 赵经理."""
    clock = data.Clock(data.START)
    db = Database(
        f"sqlite+aiosqlite:///{data_dir / 'pinjian.db'}",
        clock=clock,
        files=FileEvidenceStore(data_dir / "evidence", max_bytes=20 << 20),
    )
    await db.open()
    try:
        built = await data.populate(db, clock, photos=2, previous=False)
        async with db.transaction() as tx:
            manager = await tx.people.get(built.people["赵经理"])
            assert manager is not None
            return await issue_login(tx, manager)
    finally:
        await db.close()


def _documents_sent(database: Path) -> int:
    with sqlite3.connect(database) as conn:
        (count,) = conn.execute(
            "SELECT count(*) FROM outbox WHERE kind = 'send_document' AND status = 'sent'"
        ).fetchone()
    return int(count)


def _wait(condition: Callable[[], bool], process: subprocess.Popen[str], seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline
        time.sleep(0.2)


def test_ctrl_c_after_reports_were_rendered_prints_no_traceback(tmp_path: Path) -> None:
    env = _env(tmp_path)
    assert _pinjian("db", "upgrade", env=env).returncode == 0
    token = asyncio.run(_completed_inspection_and_manager_login(tmp_path))
    base = f"http://127.0.0.1:{env['PINJIAN_HTTP_PORT']}"
    process = subprocess.Popen(
        [sys.executable, "-m", "bot", "run"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group, as a terminal's foreground job
    )
    try:

        def healthy() -> bool:
            try:
                with urllib.request.urlopen(f"{base}/healthz", timeout=1) as response:
                    return bool(response.status == 200)
            except OSError:
                return False

        _wait(healthy, process, 60)
        request = urllib.request.Request(
            f"{base}/api/send",
            data=json.dumps({"id": "m1", "kind": "command", "command": "report"}).encode(),
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            assert response.status == 200
        _wait(lambda: _documents_sent(tmp_path / "pinjian.db") == 2, process, 90)
        os.killpg(process.pid, signal.SIGINT)
        out, err = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.communicate()
    assert process.returncode == 0, err
    assert "正在停止" in out
    assert "Traceback" not in out + err
    assert "KeyboardInterrupt" not in out + err
