"""One professional register (您), no shell commands for anyone but an administrator, and the
marks a 物业 inspector reads: ◐ for a partial score (✗ reads as 不合格), 🔍 for 抽样."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

from tests.flows.harness import Harness
from tests.flows.test_tasks import setup_task

TEMPLATES = Path(__file__).resolve().parents[2] / "bot" / "templates" / "zh_CN"
# What only an administrator is shown: the body of `{% if admin %}` up to its else/endif.
ADMIN_ONLY = re.compile(r"\{% if admin %\}.*?(?=\{% (?:else|endif) %\})", re.DOTALL)


def test_every_template_says_您_and_names_no_shell_command_but_to_an_admin() -> None:
    templates = sorted(TEMPLATES.glob("*.j2"))
    assert len(templates) > 50
    informal = [p.name for p in templates if "你" in p.read_text(encoding="utf-8")]
    assert informal == []
    commands = [
        p.name
        for p in templates
        if re.search(r"pinjian\s|\.venv/|make\s", ADMIN_ONLY.sub("", p.read_text(encoding="utf-8")))
    ]
    assert commands == []


async def test_only_an_administrator_is_told_the_invite_command(harness: Harness) -> None:
    async with harness.db.transaction() as tx:
        admin = await tx.people.create("孙管理", is_admin=True)
        await tx.invites.create("code-admin", admin.id, expires_at=tx.now() + timedelta(days=7))
    administrator = harness.user(109)
    await administrator.command("start", "code-admin")
    s = await setup_task(harness, bind_responsible=False)
    for user in (s["inspector"], s["manager"]):
        (told,) = [t for t in user.chat.texts() if "张三 还没有绑定聊天账号" in t]
        assert "pinjian" not in told and "请联系管理员为其开通账号" in told
    (told,) = [t for t in administrator.chat.texts() if "张三 还没有绑定聊天账号" in t]
    assert "<code>pinjian invite create 张三</code>" in told


async def test_a_partial_score_is_not_marked_as_failed(harness: Harness) -> None:
    seeded = await harness.seed()
    inspector = harness.user(101)
    await inspector.command("start", seeded["codes"]["王检查"])
    await inspector.command("inspect")
    await inspector.tap("阳光花园")
    await inspector.tap("0.5分")
    await inspector.tap("确认创建")
    await inspector.tap("0分")
    await inspector.tap("确认创建")
    records = [t for t in inspector.chat.texts() if re.match(r"^. [12]\. ", t)]
    assert records == ["◐ 1. 0.5分 部分符合", "✗ 2. 0分 不符合"]
    third = inspector.chat.with_buttons()
    assert "第 3/62 项" in third.text
    assert "🔍 抽样记录" in third.labels and not any("🧪" in x for x in third.labels)
