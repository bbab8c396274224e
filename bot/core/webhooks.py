"""A WeCom group robot's webhook key: read from what an admin pastes, shown only masked."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from bot.core.texts import label


class WebhookKeyError(ValueError):
    """Not a webhook key or URL."""


def webhook_key(key_or_url: str) -> str:
    """The robot's key from a key or from the webhook URL WeCom shows (`…/send?key=…`)."""
    value = key_or_url.strip()
    if "://" in value:
        keys = parse_qs(urlsplit(value).query).get("key", [])
        value = keys[0].strip() if keys else ""
    if not value or len(value) > 200 or not all(c.isalnum() or c in "-_" for c in value):
        raise WebhookKeyError(label("errors", "not_a_webhook"))
    return value


def masked(key: str | None) -> str:
    """A key as shown to admins: its last four characters only."""
    if not key:
        return ""
    return "…" + key[-4:] if len(key) > 8 else "…"
