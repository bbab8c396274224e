"""Actions the web page queued offline (`Q:` payloads): they name their item, not a screen, so
they apply whatever the conversation showed meanwhile; a bad one changes nothing."""

from __future__ import annotations

from storage.records import InspectionStatus
from tests.flows.harness import Harness, User
from tests.flows.test_inspection import begin, current_item, inspector


def inspection_of(user: User) -> int:
    return int(user.chat.with_buttons().button("不适用").split(":")[2])


async def answers(harness: Harness, insp: int) -> dict[int, tuple[float | None, bool]]:
    async with harness.db.read() as tx:
        return {a.item_no: (a.score, a.not_applicable) for a in await tx.answers.marks(insp)}


async def test_queued_answers_apply_to_their_item_and_resume_a_paused_inspection(
    harness: Harness,
) -> None:
    user, _ = await inspector(harness)
    await begin(user)
    insp = inspection_of(user)
    await user.command("pause")
    await user.press(f"Q:{insp}:1:NA:-")
    await user.press(f"Q:{insp}:2:L:0:-")
    # item 3 was never shown by the server: it is opened, then answered
    await user.press(f"Q:{insp}:4:L:0:-")
    assert await answers(harness, insp) == {1: (None, True), 2: (1, False), 4: (1, False)}
    async with harness.db.read() as tx:
        inspection = await tx.inspections.get(insp)
    assert inspection is not None and inspection.status is InspectionStatus.IN_PROGRESS
    assert current_item(user) == 5
    assert not any("离线期间" in text for text in user.chat.texts())


async def test_a_queued_answer_over_one_given_elsewhere_stands_and_says_so(
    harness: Harness,
) -> None:
    user, _ = await inspector(harness)
    await begin(user)
    insp = inspection_of(user)
    await user.tap("0.5分")  # given elsewhere while the page was offline
    await user.press(f"Q:{insp}:1:L:0:-")
    notice = next(text for text in user.chat.texts() if "离线期间" in text)
    assert "第 1 项" in notice and "「0.5分" in notice and "「1分" in notice
    assert await answers(harness, insp) == {1: (1, False)}
    async with harness.db.read() as tx:
        assert [r.score for r in await tx.answers.history(insp, 1)] == [0.5, 1]


async def test_bad_or_foreign_queued_actions_change_nothing(harness: Harness) -> None:
    user, seeded = await inspector(harness)
    await begin(user)
    insp = inspection_of(user)
    for bad in (f"Q:{insp}:1:L:9:-", f"Q:{insp}:999:NA:-", f"Q:{insp}:1:ZZ", f"Q:{insp}:1:L"):
        await user.press(bad)
        assert user.chat.toasts[-1][1], bad  # 按钮已失效, as an alert
    other = harness.user(102)
    await other.command("start", seeded["codes"]["钱其他"])
    await other.press(f"Q:{insp}:1:NA:-")
    assert "这个检查已经结束" in other.chat.last.text
    assert await answers(harness, insp) == {}


async def test_a_queued_action_on_an_inspection_it_cannot_reach_answers_the_press_once(
    harness: Harness,
) -> None:
    """Telegram keeps the pressed button spinning until the press is answered: a forged or
    outdated `Q:` press for an unknown or another's inspection is answered too."""
    user, seeded = await inspector(harness)
    await begin(user)
    insp = inspection_of(user)
    other = harness.user(102)
    await other.command("start", seeded["codes"]["钱其他"])
    for who, pressed in ((user, "Q:99999:1:NA:-"), (user, "Q:24:13"), (other, f"Q:{insp}:1:NA:-")):
        before = len(who.chat.toasts)
        await who.press(pressed)
        assert len(who.chat.toasts) == before + 1, pressed
        assert "这个检查已经结束" in who.chat.last.text, pressed
    assert await answers(harness, insp) == {}
