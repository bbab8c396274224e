"""Wiring the running bot: database, flows, outbox workers, channels and the HTTP server."""

from __future__ import annotations

import asyncio
import gc
import hashlib
import logging
import signal
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiohttp import web
from telegram.error import TelegramError

from bot.bulletins import BulletinService
from bot.config import Settings
from bot.confirm_notices import ConfirmSweeper
from bot.core.texts import plain
from bot.delivery import Handoff, OutboxWorker, Prepare, outgoing
from bot.flows.catalog import StandardsCatalog
from bot.flows.context import FlowSettings
from bot.flows.manager import weekly_digest
from bot.flows.reminder_sweep import ReminderSweeper
from bot.flows.router import FlowEngine
from bot.group_sweeper import GroupSweeper
from bot.handlers import kit
from bot.handlers.telegram import TelegramChannel
from bot.handlers.web.channel import WebChannel
from bot.handlers.web.limits import UploadLimit
from bot.handlers.web.links import chat_url
from bot.handlers.wecom.channel import WeComChannel
from bot.handlers.wecom.webhook import WeComGroupChannel
from bot.logs import MALFORMED_REQUESTS, redact, setup_logging
from bot.plan_notices import PlanSweeper
from bot.reports.service import ReportService
from bot.retention import Retention
from bot.scheduler import UNCLAIMED_GRACE_MINUTES, Scheduler
from standards.loader import StandardError
from storage.coordination import Leadership, is_postgres
from storage.db import Database
from storage.errors import SchemaMismatch
from storage.evidence import FileEvidenceStore
from storage.records import Channel, OutboxMessage
from storage.unclaimed import UnclaimedSweeper

log = logging.getLogger(__name__)


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Runtime:
    """Everything one bot process runs; `start` and `stop` bring it up and down in order."""

    settings: Settings
    db: Database
    engine: FlowEngine
    workers: dict[Channel, OutboxWorker] = field(default_factory=dict)
    channels: list[kit.Channel] = field(default_factory=list)
    """Every channel running, in the order they started."""
    http: web.AppRunner | None = None
    telegram: TelegramChannel | None = None
    web: WebChannel | None = None
    wecom: WeComChannel | None = None
    scheduler: Scheduler | None = None
    reports: ReportService | None = None
    bulletins: BulletinService | None = None

    async def run(self, channel: kit.Channel) -> None:
        """Start the channel and its outbox worker; report files are rendered on the way
        out."""
        assert self.reports is not None and self.bulletins is not None
        await channel.start()
        worker = OutboxWorker(
            self.db,
            channel.name,
            channel.send,
            clock=utc_now,
            prepare=file_renderer(self.reports, self.bulletins),
            independent=channel.independent,
        )
        self.workers[channel.name] = worker
        worker.start()
        self.channels.append(channel)


def file_renderer(reports: ReportService, bulletins: BulletinService) -> Prepare:
    """The outbox hook that renders the file a row asks for: a 通报 or an inspection report."""

    async def prepare(message: OutboxMessage) -> dict[str, Any]:
        request = outgoing(message).request
        if request is not None and request.bulletin is not None:
            return await bulletins.prepare(message)
        return await reports.prepare(message)

    return prepare


def flow_settings(settings: Settings) -> FlowSettings:
    return FlowSettings(timezone=settings.timezone, max_upload_mb=settings.max_upload_mb)


def poll_leadership(db: Database, token: str) -> Leadership | None:
    """On PostgreSQL, where several processes may run, the lock that lets one of them poll
    this bot token (named by a digest: the token itself is a secret)."""
    if not is_postgres(db.url):
        return None
    digest = hashlib.sha256(token.encode()).hexdigest()[:16]
    return Leadership(db.url, f"telegram-poll:{digest}")


def build_database(settings: Settings) -> Database:
    files = FileEvidenceStore(settings.evidence_dir, max_bytes=settings.max_upload_mb * 1_048_576)
    return Database(settings.resolved_database_url, files=files)


async def start(settings: Settings) -> Runtime:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    db = build_database(settings)
    await db.open(check=True)
    catalog = StandardsCatalog.load(settings.data_dir)
    workers: dict[Channel, OutboxWorker] = {}

    def wake_workers(channels: Collection[Channel] | None = None) -> None:
        """Wake the outbox workers of `channels` (all of them when not known)."""
        for channel, worker in workers.items():
            if channels is None or channel in channels:
                worker.wake()

    engine = FlowEngine(db, catalog, flow_settings(settings), utc_now, outbox=Handoff(workers))
    reports = ReportService(db)
    bulletins = BulletinService(db, draw=reports.render_bulletin)
    runtime = Runtime(
        settings=settings,
        db=db,
        engine=engine,
        workers=workers,
        reports=reports,
        bulletins=bulletins,
    )
    if settings.telegram_enabled:
        runtime.telegram = _telegram(settings, runtime)
        await runtime.run(runtime.telegram)
    if settings.wecom_enabled:
        runtime.wecom = _wecom(settings, runtime)
        await runtime.run(runtime.wecom)
    elif len(settings.wecom_missing) < 5:
        log.warning("WeCom channel off: %s not set", ", ".join(settings.wecom_missing))
    if settings.web_enabled:
        runtime.web = WebChannel(
            engine=engine,
            db=db,
            files=db.files,
            incoming=settings.data_dir / "incoming",
            upload_limit=UploadLimit(
                files=settings.upload_window_files,
                total_bytes=settings.upload_window_mb * 1_048_576,
                minutes=settings.upload_window_minutes,
            ),
        )
        await runtime.run(runtime.web)
    await runtime.run(WeComGroupChannel(db, db.files, settings.wecom_api_url))
    runtime.http = await _start_http(settings, runtime)
    runtime.scheduler = Scheduler(
        ReminderSweeper(db, utc_now),
        settings.timezone,
        on_sent=wake_workers,
        digest=lambda: weekly_digest(db, utc_now, settings.timezone),
        bulletin=bulletins.send_monthly,
        retention=Retention(db, utc_now),
        unclaimed=UnclaimedSweeper(db, db.files, grace_seconds=UNCLAIMED_GRACE_MINUTES * 60),
        plans=PlanSweeper(db, utc_now, catalog),
        groups=GroupSweeper(db, utc_now),
        confirmations=ConfirmSweeper(db, utc_now),
    )
    runtime.scheduler.start()
    return runtime


def _telegram(settings: Settings, runtime: Runtime) -> TelegramChannel:
    assert settings.telegram_token is not None
    token = settings.telegram_token.get_secret_value()
    secret = settings.telegram_webhook_secret
    return TelegramChannel(
        token=token,
        api_url=settings.telegram_api_url,
        file_url=settings.telegram_file_url,
        engine=runtime.engine,
        db=runtime.db,
        files=runtime.db.files,
        rate_limit=settings.telegram_rate_limit,
        webhook_url=settings.telegram_webhook_url,
        webhook_secret=secret.get_secret_value() if secret else "",
        leadership=poll_leadership(runtime.db, token),
    )


def _wecom(settings: Settings, runtime: Runtime) -> WeComChannel:
    secret, token, aes_key = settings.wecom_secret, settings.wecom_token, settings.wecom_aes_key
    assert secret and token and aes_key and settings.wecom_agent_id is not None
    return WeComChannel(
        corp_id=settings.wecom_corp_id,
        agent_id=settings.wecom_agent_id,
        secret=secret.get_secret_value(),
        token=token.get_secret_value(),
        aes_key=aes_key.get_secret_value(),
        api_url=settings.wecom_api_url,
        engine=runtime.engine,
        db=runtime.db,
        files=runtime.db.files,
    )


async def _health(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def _start_http(settings: Settings, runtime: Runtime) -> web.AppRunner:
    logging.getLogger("aiohttp.server").addFilter(MALFORMED_REQUESTS)
    app = web.Application(client_max_size=(settings.max_upload_mb + 1) * 1_048_576)
    app.router.add_get("/healthz", _health)
    for channel in runtime.channels:
        channel.routes(app)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, settings.http_host, settings.http_port)
    await site.start()
    log.info("HTTP server on http://%s:%s", settings.http_host, settings.http_port)
    return runner


async def stop(runtime: Runtime) -> None:
    """Stop receiving first, then finish in-flight sends; queued messages stay in the outbox."""
    if runtime.scheduler is not None:
        await runtime.scheduler.stop()
    for channel in runtime.channels:
        await channel.stop()
    for worker in runtime.workers.values():
        await worker.stop()
    for channel in runtime.channels:
        await channel.close()
    if runtime.reports is not None:
        await runtime.reports.close()
    if runtime.http is not None:
        await runtime.http.cleanup()
    await runtime.db.close()


async def serve(settings: Settings) -> int:
    setup_logging(settings.log_level)
    # Before start-up, which answers /healthz before it has finished: a SIGTERM meanwhile
    # stops the bot cleanly once it has started.
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stopping.set)
    try:
        runtime = await start(settings)
    except SchemaMismatch as exc:
        log.error("%s", exc)
        print(f"pinjian: {exc}")
        return 2
    except StandardError as exc:
        print(plain("console", "bad_standard", error=exc))
        return 2
    except OSError as exc:
        address = f"{settings.http_host}:{settings.http_port}"
        print(plain("console", "cannot_listen", address=address, reason=exc.strerror))
        return 2
    except TelegramError as exc:
        print(plain("console", "no_telegram", error=redact(str(exc))))
        return 2
    except Exception as exc:
        log.debug("start-up failed", exc_info=True)
        error = redact(str(exc))
        print(plain("console", "start_failed", kind=exc.__class__.__name__, error=error))
        return 2
    # What start-up loaded (libraries, templates, the standards) lives as long as the
    # process: keep it out of the cyclic collector's full passes, which otherwise stopped
    # every chat at a time under load (docs/BENCHMARKS.md).
    gc.freeze()
    names = {channel.name for channel in runtime.channels}
    channels = [
        name.value for name in (Channel.WEB, Channel.TELEGRAM, Channel.WECOM) if name in names
    ]
    running = plain(
        "console", "running", host=settings.http_host, port=settings.http_port, channels=channels
    )
    print(running, flush=True)
    if runtime.web is not None:
        url = chat_url(settings.http_host, settings.http_port, settings.public_url)
        print(plain("console", "web_chat", url=url), flush=True)
    await stopping.wait()
    print(plain("console", "stopping"), flush=True)
    await stop(runtime)
    return 0
