"""What WeCom sends to the bot's callback URL, built for tests: plaintext message XML and the
encrypted, signed envelope around it (the product only parses and decrypts these:
bot.handlers.wecom.xmlmsg, bot.handlers.wecom.crypto)."""

from __future__ import annotations

import binascii
import os
import time
from xml.sax.saxutils import escape

from bot.handlers.wecom.crypto import WeComCrypto

_AES_BLOCK = 16
_PAD_BLOCK = 32


class CallbackCrypto(WeComCrypto):
    """WeComCrypto with WeCom's side of the scheme: encrypting a callback."""

    def encrypt(self, plaintext: str | bytes, *, random16: bytes | None = None) -> str:
        """Encrypt one message; ``random16`` fixes the random prefix."""
        message = plaintext.encode() if isinstance(plaintext, str) else plaintext
        prefix = os.urandom(_AES_BLOCK) if random16 is None else random16
        if len(prefix) != _AES_BLOCK:
            raise ValueError("random16 must be exactly 16 bytes")
        body = prefix + len(message).to_bytes(4, "big") + message + self._corp_id
        pad = _PAD_BLOCK - len(body) % _PAD_BLOCK
        encryptor = self._cipher().encryptor()
        ciphertext = encryptor.update(body + bytes([pad]) * pad) + encryptor.finalize()
        return binascii.b2a_base64(ciphertext, newline=False).decode("ascii")

    def encrypt_message(self, reply_xml: str | bytes, nonce: str, timestamp: str) -> str:
        """Build the encrypted passive-reply XML (Encrypt, MsgSignature, TimeStamp, Nonce)."""
        encrypted = self.encrypt(reply_xml)
        signature = self.signature(timestamp, nonce, encrypted)
        return (
            "<xml>"
            f"<Encrypt>{cdata(encrypted)}</Encrypt>"
            f"<MsgSignature>{cdata(signature)}</MsgSignature>"
            f"<TimeStamp>{escape(timestamp)}</TimeStamp>"
            f"<Nonce>{cdata(nonce)}</Nonce>"
            "</xml>"
        )


def cdata(text: str) -> str:
    """Wrap ``text`` in CDATA, splitting any ``]]>`` so it cannot close the section."""
    return "<![CDATA[" + text.replace("]]>", "]]]]><![CDATA[>") + "]]>"


def _build(elements: list[tuple[str, str | int]]) -> bytes:
    parts = [
        f"<{tag}>{value}</{tag}>" if isinstance(value, int) else f"<{tag}>{cdata(value)}</{tag}>"
        for tag, value in elements
    ]
    return ("<xml>" + "".join(parts) + "</xml>").encode()


def _head(
    msg_type: str, from_user: str, to_user: str, create_time: int | None
) -> list[tuple[str, str | int]]:
    return [
        ("ToUserName", to_user),
        ("FromUserName", from_user),
        ("CreateTime", int(time.time()) if create_time is None else create_time),
        ("MsgType", msg_type),
    ]


def build_envelope(encrypt: str, *, to_user: str = "", agent_id: int | None = None) -> bytes:
    """The encrypted POST body WeCom sends to the callback URL."""
    elements: list[tuple[str, str | int]] = [("ToUserName", to_user), ("Encrypt", encrypt)]
    if agent_id is not None:
        elements.append(("AgentID", agent_id))
    return _build(elements)


def build_text(
    from_user: str,
    content: str,
    *,
    to_user: str = "corp",
    agent_id: int = 1000002,
    msg_id: int = 1,
    create_time: int | None = None,
) -> bytes:
    return _build(
        [
            *_head("text", from_user, to_user, create_time),
            ("Content", content),
            ("MsgId", msg_id),
            ("AgentID", agent_id),
        ]
    )


def build_image(
    from_user: str,
    media_id: str,
    *,
    pic_url: str = "https://example.invalid/pic.jpg",
    to_user: str = "corp",
    agent_id: int = 1000002,
    msg_id: int = 1,
    create_time: int | None = None,
) -> bytes:
    return _build(
        [
            *_head("image", from_user, to_user, create_time),
            ("PicUrl", pic_url),
            ("MediaId", media_id),
            ("MsgId", msg_id),
            ("AgentID", agent_id),
        ]
    )


def build_file(
    from_user: str,
    media_id: str,
    file_name: str,
    *,
    to_user: str = "corp",
    agent_id: int = 1000002,
    msg_id: int = 1,
    create_time: int | None = None,
) -> bytes:
    return _build(
        [
            *_head("file", from_user, to_user, create_time),
            ("MediaId", media_id),
            ("FileName", file_name),
            ("MsgId", msg_id),
            ("AgentID", agent_id),
        ]
    )


def build_event(
    from_user: str,
    event: str,
    *,
    event_key: str = "",
    to_user: str = "corp",
    agent_id: int = 1000002,
    create_time: int | None = None,
) -> bytes:
    """A plain event such as ``enter_agent`` or ``subscribe``."""
    return _build(
        [
            *_head("event", from_user, to_user, create_time),
            ("Event", event),
            ("EventKey", event_key),
            ("AgentID", agent_id),
        ]
    )


def build_template_card_event(
    from_user: str,
    task_id: str,
    event_key: str,
    response_code: str,
    *,
    card_type: str = "button_interaction",
    to_user: str = "corp",
    agent_id: int = 1000002,
    create_time: int | None = None,
) -> bytes:
    """The event WeCom sends when a member presses a template-card button."""
    return _build(
        [
            *_head("event", from_user, to_user, create_time),
            ("Event", "template_card_event"),
            ("EventKey", event_key),
            ("TaskId", task_id),
            ("CardType", card_type),
            ("ResponseCode", response_code),
            ("AgentID", agent_id),
        ]
    )
