"""Fuzz: random events from bound and unbound people, in every conversation state, through
FlowEngine. No event may end in an unexpected exception (the generic error message), every
button press is answered exactly once, and the database invariants hold afterwards."""

from __future__ import annotations

import asyncio
import itertools
import random
import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.resilience.fuzz import ErrorLog, Player, Step, random_step, step_strategy
from tests.resilience.invariants import violations
from tests.resilience.scale import LONG, scaled
from tests.resilience.world import STATES, Frozen, World

EXAMPLES = scaled(60, 1000)
WALK_STEPS = scaled(110, 2000)


async def fuzz_once(template: Frozen, dest: Path, state: str, steps: list[Step]) -> int:
    world = await World.thaw(template, dest)
    try:
        with ErrorLog() as errors:
            player = Player(world, STATES[state][0], errors)
            for step in steps:
                await player.play(step)
        problems = await violations(world.db)
        assert not problems, "\n".join([*problems, "after:", *player.played])
        return len(steps)
    finally:
        await world.close()
        shutil.rmtree(dest, ignore_errors=True)


@pytest.mark.timeout(scaled(300, 3600))
def test_hypothesis_events_in_every_state(frozen: dict[str, Frozen], tmp_path: Path) -> None:
    runs = itertools.count()
    played: list[int] = []

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        derandomize=not LONG,
        suppress_health_check=list(HealthCheck),
    )
    @given(st.sampled_from(sorted(STATES)), st.lists(step_strategy(), min_size=3, max_size=40))
    def run(state: str, steps: list[Step]) -> None:
        dest = tmp_path / f"run{next(runs)}"
        played.append(asyncio.run(fuzz_once(frozen[state], dest, state, steps)))

    run()
    print(f"hypothesis: {len(played)} examples, {sum(played)} events")


@pytest.mark.parametrize("state", sorted(STATES))
async def test_random_walk_from_every_state(
    frozen: dict[str, Frozen], tmp_path: Path, state: str
) -> None:
    rng = random.Random(f"walk-{state}")
    steps = [random_step(rng) for _ in range(WALK_STEPS)]
    assert await fuzz_once(frozen[state], tmp_path / "walk", state, steps) == WALK_STEPS
