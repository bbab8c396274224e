"""`pinjian db`: upgrade the schema, show its version, back up and restore."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from bot.cli.common import CliError, SubParsers
from bot.config import Settings, load_settings
from storage.backup import backup, restore
from storage.engine import create_engine, mask_url, sqlite_path
from storage.errors import StorageError
from storage.evidence import FileEvidenceStore
from storage.migrate import current_revision, head_revision, upgrade


def register(commands: SubParsers) -> None:
    db = commands.add_parser(
        "db",
        help="数据库：升级、状态、备份、恢复 (database: upgrade, status, backup, restore)",
        description="管理品检数据库（PINJIAN_DATABASE_URL，默认 data/pinjian.db）。",
    )
    actions = db.add_subparsers(dest="db_action", metavar="ACTION")
    actions.required = True
    actions.add_parser(
        "upgrade",
        help="把数据库升级到本程序的结构版本 (bring the database to the current schema)",
    ).set_defaults(handler=_upgrade)
    actions.add_parser("status", help="显示数据库结构版本 (show the schema revision)").set_defaults(
        handler=_status
    )
    save = actions.add_parser(
        "backup",
        help="在线备份数据库和证据文件 (online backup of the database and evidence files)",
    )
    save.add_argument("path", type=Path, help="新的或空的备份目录 (a new or empty directory)")
    save.set_defaults(handler=_backup)
    load = actions.add_parser(
        "restore", help="从备份恢复 (restore a backup made by `pinjian db backup`)"
    )
    load.add_argument("path", type=Path, help="备份目录 (the backup directory)")
    load.add_argument(
        "--force",
        action="store_true",
        help="覆盖非空数据库 (replace the contents of a non-empty database)",
    )
    load.set_defaults(handler=_restore)


def _files(settings: Settings, *, upload_limit: bool = True) -> FileEvidenceStore:
    """The evidence store; restoring is not an upload, so it may skip the upload limit."""
    limit = settings.max_upload_mb * 1_048_576 if upload_limit else sys.maxsize
    return FileEvidenceStore(settings.evidence_dir, max_bytes=limit)


def _upgrade(args: argparse.Namespace) -> int:
    url = load_settings().resolved_database_url
    try:
        before, after = asyncio.run(upgrade(url))
    except StorageError as exc:
        raise CliError(str(exc)) from None
    if before == after:
        print(f"数据库已是最新版本 (schema {after}) / database already up to date: {mask_url(url)}")
    else:
        print(
            f"数据库已升级到最新版本 (schema {after}) / database upgraded "
            f"from {before or 'empty'} to {after}: {mask_url(url)}"
        )
    return 0


async def _current(url: str) -> str | None:
    path = sqlite_path(url)
    if path is not None and not path.exists():
        return None
    engine = create_engine(url)
    try:
        return await current_revision(engine)
    finally:
        await engine.dispose()


def _status(args: argparse.Namespace) -> int:
    url = load_settings().resolved_database_url
    current, head = asyncio.run(_current(url)), head_revision()
    print(f"数据库 / database: {mask_url(url)}")
    print(f"当前结构版本 / current schema: {current or '无 (none)'}")
    print(f"本程序结构版本 / program schema: {head}")
    if current == head:
        print("状态：最新 / status: up to date")
        return 0
    print("状态：需要运行 `pinjian db upgrade` / status: run `pinjian db upgrade`")
    return 1


def _backup(args: argparse.Namespace) -> int:
    settings = load_settings()
    try:
        manifest = asyncio.run(backup(settings.resolved_database_url, _files(settings), args.path))
    except StorageError as exc:
        raise CliError(str(exc)) from None
    rows = sum(manifest.tables.values())
    print(
        f"备份完成：{rows} 行，{len(manifest.evidence)} 个证据文件 → {args.path} / "
        f"backup written: {rows} rows, {len(manifest.evidence)} evidence files"
    )
    if manifest.missing_evidence:
        print(
            f"警告：{len(manifest.missing_evidence)} 个证据文件在存储中缺失，见 manifest.json / "
            f"warning: {len(manifest.missing_evidence)} referenced evidence files are missing "
            "from the store (listed in manifest.json)"
        )
    return 0


def _restore(args: argparse.Namespace) -> int:
    settings = load_settings()
    try:
        manifest = asyncio.run(
            restore(
                settings.resolved_database_url,
                _files(settings, upload_limit=False),
                args.path,
                force=args.force,
            )
        )
    except StorageError as exc:
        raise CliError(str(exc)) from None
    rows = sum(manifest.tables.values())
    print(
        f"恢复完成并已校验：{rows} 行，{len(manifest.evidence)} 个证据文件 / "
        f"restored and verified: {rows} rows, {len(manifest.evidence)} evidence files"
    )
    return 0
