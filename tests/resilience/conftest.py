from __future__ import annotations

import asyncio

import pytest

from tests.resilience.world import Frozen, templates


@pytest.fixture(scope="session")
def frozen(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Frozen]:
    """The company frozen in every conversation state (built once, copied by each test)."""
    return asyncio.run(templates(tmp_path_factory.mktemp("templates")))
