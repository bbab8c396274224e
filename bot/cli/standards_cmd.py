"""`pinjian standards …`: list, check, show and import inspection standards."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from bot.cli.common import CliError, SubParsers
from bot.config import load_settings
from standards.importer import dump_yaml, import_workbook
from standards.loader import StandardError, check_file, load_all, standard_dirs
from standards.schema import Standard


def register(commands: SubParsers) -> None:
    group = commands.add_parser(
        "standards",
        help="检查标准：列出、校验、查看、从 Excel 导入 (inspection standards)",
        description="管理检查标准 (Manage inspection standards).",
    )
    sub = group.add_subparsers(dest="standards_command", metavar="ACTION")
    sub.required = True

    listing = sub.add_parser("list", help="列出可用的检查标准 (list available standards)")
    listing.set_defaults(handler=_list)

    check = sub.add_parser("check", help="校验一个标准文件 (validate a standard file)")
    check.add_argument("file", type=Path, help="标准文件 (YAML) 路径")
    check.set_defaults(handler=_check)

    show = sub.add_parser("show", help="查看一个标准的全部条目 (show a standard)")
    show.add_argument("id", help="标准编号，如 community-culture")
    show.add_argument("--json", action="store_true", help="以 JSON 输出 (stable format)")
    show.set_defaults(handler=_show)

    importer = sub.add_parser(
        "import",
        help="从 Excel 表导入标准 (import a standard from an .xlsx sheet)",
        description=(
            "读取公司现有的检查表 (序号 / 标准内容 / 评分细则 / 分值，章节行如 一、客户管理)，"
            "生成标准文件。无法识别分档的条目会列出，请人工核对。"
        ),
    )
    importer.add_argument("file", type=Path, help="Excel 文件 (.xlsx)")
    importer.add_argument("--id", required=True, help="新标准的编号 (a-z, 0-9, -)")
    importer.add_argument("--title", help="标准名称 (默认取表头上方的标题)")
    importer.add_argument("--version", default="1.0", help="版本号 (default 1.0)")
    importer.add_argument("--out", type=Path, help="输出文件 (默认 <数据目录>/standards/<id>.yaml)")
    importer.set_defaults(handler=_import)


def _available() -> dict[str, Standard]:
    settings = load_settings()
    try:
        return load_all(standard_dirs(settings.data_dir))
    except StandardError as exc:
        raise CliError(f"标准文件有误 (invalid standard file):\n{exc}") from None


def _list(args: argparse.Namespace) -> int:
    standards = _available()
    if not standards:
        print("没有可用的检查标准 (no standards found)")
        return 0
    for standard in standards.values():
        print(
            f"{standard.id}\t版本 {standard.version}\t{len(standard.items)} 项\t"
            f"{standard.title}\t#{standard.content_hash()[:12]}"
        )
    return 0


def _check(args: argparse.Namespace) -> int:
    problems = check_file(args.file)
    if problems:
        print(f"发现 {len(problems)} 个问题 ({len(problems)} problem(s)):")
        for problem in problems:
            print(f"  - {problem}")
        return 1
    print(f"{args.file}: 校验通过 (OK)")
    return 0


def _show(args: argparse.Namespace) -> int:
    standards = _available()
    standard = standards.get(args.id)
    if standard is None:
        known = ", ".join(sorted(standards)) or "无"
        raise CliError(f"没有编号为 {args.id} 的标准 (unknown standard); 可用: {known}")
    if args.json:
        print(json.dumps(standard.to_json_dict(), ensure_ascii=False, indent=2))
        return 0
    print(f"{standard.title}  (id {standard.id}, 版本 {standard.version})")
    for section in standard.sections:
        print(f"\n{section.heading}  ({len(section.items)} 项, {section.max_score:g} 分)")
        for item in section.items:
            levels = " / ".join(f"{lv.score:g}分 {lv.label}" for lv in item.levels)
            print(f"  {item.no}. {item.content}")
            print(f"     评分: {levels}")
            print(f"     方法: {item.method}")
            if item.note:
                print(f"     注: {item.note}")
    return 0


def _import(args: argparse.Namespace) -> int:
    try:
        result = import_workbook(args.file, args.id, title=args.title, version=args.version)
    except StandardError as exc:
        raise CliError(f"无法导入 (cannot import):\n{exc}") from None
    out: Path = args.out or load_settings().data_dir / "standards" / f"{args.id}.yaml"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(dump_yaml(result.standard), encoding="utf-8")
    standard = result.standard
    print(
        f"已导入 {len(standard.items)} 项、{len(standard.sections)} 个章节 → {out}"
        f" (imported {len(standard.items)} items)"
    )
    if result.flags:
        print(f"以下 {len(result.flags)} 处需要人工核对 (please review):")
        for flag in result.flags:
            print(f"  - 第{flag.no}项: {flag.reason}")
    return 0
