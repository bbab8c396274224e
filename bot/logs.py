"""Logging set-up that keeps secrets out of every log line."""

from __future__ import annotations

import logging
import re

_SECRETS = (
    re.compile(r"(bot)(\d{5,}:[A-Za-z0-9_-]{20,})"),
    re.compile(r"(access_token=|corpsecret=|secret=|token=)[^&\s\"']+"),
    re.compile(r"(://[^:/@\s]+:)[^@\s]+(@)"),
)


class RedactSecrets(logging.Filter):
    """Masks bot tokens, access tokens and URL passwords in messages and their arguments."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = redact(message)
        if redacted != message:
            record.msg, record.args = redacted, ()
        return True


def redact(text: str) -> str:
    text = _SECRETS[0].sub(r"\1***", text)
    text = _SECRETS[1].sub(r"\1***", text)
    return _SECRETS[2].sub(r"\1***\2", text)


def setup_logging(level: str) -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactSecrets())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("httpx", "aiohttp.access", "apscheduler", "alembic"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
