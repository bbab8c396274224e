"""A stored conversation state that does not validate starts the conversation afresh (with a
warning) instead of failing every event of that chat."""

from __future__ import annotations

import logging

import pytest

from bot.core.conversation import ConversationState, Mode
from bot.core.texts import render
from storage.records import Channel
from tests.flows.harness import Harness, User


async def _stored(harness: Harness, person_id: int, user: User) -> tuple[dict[str, object], int]:
    async with harness.db.read() as tx:
        conversation = await tx.conversations.get(person_id, user.channel, user.user_id)
    assert conversation is not None
    return conversation.state, conversation.version


async def test_an_unreadable_state_restarts_idle_and_keeps_old_buttons_stale(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    seeded = await harness.seed()
    person = seeded["people"]["王检查"].id
    user = harness.user(101)
    await user.command("start", seeded["codes"]["王检查"])
    await user.command("inspect")
    await user.tap("阳光花园")
    card = user.chat.with_buttons()
    state, version = await _stored(harness, person, user)
    screen = state["screen"]
    assert isinstance(screen, int)
    async with harness.db.transaction() as tx:
        broken = {**state, "mode": "dancing", "task": "half a draft"}
        await tx.conversations.save(
            person, Channel.TELEGRAM, user.user_id, broken, expected_version=version
        )

    with caplog.at_level(logging.WARNING, logger="bot.flows.router"):
        await user.press(card.button("1分 符合"))
    assert user.chat.toasts[-1] == (render("stale_button"), True)
    assert "stored state does not validate" in caplog.text
    assert "dancing" not in caplog.text  # what was stored is not logged, only where it failed
    assert render("error") not in user.chat.texts()
    restarted, _ = await _stored(harness, person, user)
    assert ConversationState.model_validate(restarted) == ConversationState(screen=screen)

    await user.command("resume")
    await user.tap("阳光花园")
    await user.tap("1分 符合")
    state, _ = await _stored(harness, person, user)
    loaded = ConversationState.model_validate(state)
    assert loaded.mode is Mode.ITEM and loaded.no == 2
    assert loaded.screen > screen
    assert render("error") not in user.chat.texts()
