"""Helpers shared by the CLI sub-commands."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any, Protocol


class CliError(Exception):
    """A problem the operator can fix; printed as one line, exit code 2."""


class SubParsers(Protocol):
    def add_parser(self, name: str, **kwargs: Any) -> argparse.ArgumentParser: ...


Handler = Callable[[argparse.Namespace], int]
