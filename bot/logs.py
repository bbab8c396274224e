"""Logging set-up that keeps secrets out of every log line."""

from __future__ import annotations

import logging
import re

from aiohttp.http_exceptions import HttpProcessingError

_SECRETS = (
    re.compile(r"(bot)(\d{5,}:[A-Za-z0-9_-]{20,})"),
    re.compile(r"(access_token=|corpsecret=|secret=|token=)[^&\s\"']+"),
    re.compile(r"(://[^:/@\s]+:)[^@\s]+(@)"),
    # python-telegram-bot logs setWebhook's parameters at DEBUG.
    re.compile(r"(['\"]secret_token['\"]:\s*['\"])[^'\"]+"),
)


class RedactSecrets(logging.Filter):
    """Masks bot tokens, access tokens and URL passwords in messages and their arguments."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = redact(message)
        if redacted != message:
            record.msg, record.args = redacted, ()
        return True


class MalformedRequestsInOneLine(logging.Filter):
    """aiohttp answers a request it cannot parse (a header with bytes HTTP forbids, say) with
    a 400 itself, and a client that hangs up halfway through its body ends the handler with
    ConnectionResetError; aiohttp logs either with a traceback, so anyone could fill the log
    with tracebacks. One warning line without the request's content is enough."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if isinstance(error, HttpProcessingError):
            record.msg, record.args = "malformed HTTP request (%s)", (type(error).__name__,)
        elif isinstance(error, ConnectionResetError):
            record.msg, record.args = "client hung up before its request was read", ()
        else:
            return True
        record.exc_info, record.exc_text = None, None
        record.levelno, record.levelname = logging.WARNING, "WARNING"
        return True


MALFORMED_REQUESTS = MalformedRequestsInOneLine()


def redact(text: str) -> str:
    text = _SECRETS[0].sub(r"\1***", text)
    text = _SECRETS[1].sub(r"\1***", text)
    text = _SECRETS[3].sub(r"\1***", text)
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
