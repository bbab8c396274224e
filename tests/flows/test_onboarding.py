"""Binding chat accounts by invite; strangers get a polite refusal and nothing else."""

from __future__ import annotations

from tests.flows.harness import Harness


async def test_stranger_is_refused_whatever_they_send(harness: Harness) -> None:
    await harness.seed()
    stranger = harness.user(999)
    await stranger.command("inspect")
    await stranger.text("你好")
    await stranger.press("L:1:1:1:0")
    await stranger.photo(b"\xff\xd8stranger-photo")
    texts = stranger.chat.texts()
    assert len(texts) == 4
    assert all("还没有开通账号" in t for t in texts)
    async with harness.db.read() as tx:
        assert await tx.inspections.open_for_inspector(1) == []


async def test_invite_binds_once_and_bad_codes_are_refused(harness: Harness) -> None:
    seeded = await harness.seed()
    inspector = harness.user(101)
    await inspector.command("start", "no-such-code")
    assert "邀请码无效" in inspector.chat.last.text
    await inspector.command("start", seeded["codes"]["王检查"])
    assert "欢迎，王检查" in inspector.chat.last.text
    assert "阳光花园：检查员" in inspector.chat.last.text
    other = harness.user(102)
    await other.command("start", seeded["codes"]["王检查"])
    assert "已经被使用过" in other.chat.last.text
    await other.command("inspect")
    assert "还没有开通账号" in other.chat.last.text


async def test_expired_invite_is_refused(harness: Harness) -> None:
    seeded = await harness.seed()
    harness.clock.advance(days=8)
    user = harness.user(103)
    await user.command("start", seeded["codes"]["张三"])
    assert "已过期" in user.chat.last.text


async def test_help_and_unknown_command(harness: Harness) -> None:
    seeded = await harness.seed()
    inspector = harness.user(101)
    await inspector.command("start", seeded["codes"]["王检查"])
    await inspector.command("frobnicate")
    assert "不认识这个命令" in inspector.chat.messages[-2].text
    assert "/inspect" in inspector.chat.last.text
    staff = harness.user(102)
    await staff.command("start", seeded["codes"]["张三"])
    await staff.command("help")
    assert "/inspect" not in staff.chat.last.text
