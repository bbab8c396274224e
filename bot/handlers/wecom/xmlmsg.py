"""Hardened parsing of WeCom callback XML, plus builders for plaintext test messages.

Every callback body is attacker-controlled until its signature is checked, so parsing goes
through defusedxml with DTDs, entity declarations and external references all forbidden,
and behind a size limit.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TypedDict
from xml.etree.ElementTree import Element, ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

MAX_XML_BYTES = 64 * 1024


class WeComXMLError(ValueError):
    """A callback body that is not acceptable WeCom XML."""


class WeComEnvelope(TypedDict):
    """The outer, still-encrypted callback body."""

    ToUserName: str
    AgentID: str
    Encrypt: str


@dataclass(frozen=True)
class WeComIncoming:
    """One decrypted WeCom message or event.

    Fields that do not apply to ``msg_type`` are ``None``; ``raw`` keeps every top-level
    element's text (nested ones such as ``SelectedItems`` are left out).
    """

    msg_type: str
    from_user: str
    to_user: str
    create_time: int
    agent_id: int | None = None
    msg_id: str | None = None
    content: str | None = None
    media_id: str | None = None
    pic_url: str | None = None
    file_name: str | None = None
    file_ext: str | None = None
    event: str | None = None
    event_key: str | None = None
    task_id: str | None = None
    card_type: str | None = None
    response_code: str | None = None
    raw: dict[str, str] = field(default_factory=dict, hash=False)


def parse_xml(body: bytes) -> Element:
    """Parse ``body`` safely; the root element must be ``<xml>``."""
    if len(body) > MAX_XML_BYTES:
        raise WeComXMLError(f"XML body is larger than {MAX_XML_BYTES} bytes")
    try:
        root = fromstring(body, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as exc:
        raise WeComXMLError("XML with a DOCTYPE, entity or external reference is refused") from exc
    except ParseError as exc:
        raise WeComXMLError(f"malformed XML: {exc}") from exc
    if root.tag != "xml":
        raise WeComXMLError("root element must be <xml>")
    return root


def _flat_fields(root: Element) -> dict[str, str]:
    return {child.tag: child.text or "" for child in root if len(child) == 0}


def parse_envelope(body: bytes) -> WeComEnvelope:
    """Read the encrypted envelope WeCom POSTs; ``Encrypt`` must be present and non-empty."""
    fields = _flat_fields(parse_xml(body))
    encrypt = fields.get("Encrypt", "").strip()
    if not encrypt:
        raise WeComXMLError("missing Encrypt element")
    return WeComEnvelope(
        ToUserName=fields.get("ToUserName", "").strip(),
        AgentID=fields.get("AgentID", "").strip(),
        Encrypt=encrypt,
    )


def _required(fields: dict[str, str], name: str) -> str:
    value = fields.get(name, "").strip()
    if not value:
        raise WeComXMLError(f"missing {name} element")
    return value


def _optional(fields: dict[str, str], name: str) -> str | None:
    value = fields.get(name)
    return None if value is None else value.strip()


def _int_field(fields: dict[str, str], name: str) -> int:
    try:
        return int(_required(fields, name))
    except ValueError:
        raise WeComXMLError(f"{name} is not an integer") from None


def parse_message(xml_bytes: bytes) -> WeComIncoming:
    """Parse a decrypted message: text, image, file or event (incl. template_card_event)."""
    fields = _flat_fields(parse_xml(xml_bytes))
    msg_type = _required(fields, "MsgType")
    agent_id = _int_field(fields, "AgentID") if fields.get("AgentID", "").strip() else None
    file_name = _optional(fields, "FileName") if msg_type == "file" else None
    file_ext = _optional(fields, "FileExt") if msg_type == "file" else None
    if file_ext is None and file_name and "." in file_name:
        file_ext = file_name.rsplit(".", 1)[1]
    return WeComIncoming(
        msg_type=msg_type,
        from_user=_required(fields, "FromUserName"),
        to_user=_required(fields, "ToUserName"),
        create_time=_int_field(fields, "CreateTime"),
        agent_id=agent_id,
        msg_id=_optional(fields, "MsgId"),
        # User text is kept byte-for-byte: no stripping.
        content=fields.get("Content") if msg_type == "text" else None,
        media_id=_optional(fields, "MediaId"),
        pic_url=_optional(fields, "PicUrl"),
        file_name=file_name,
        file_ext=file_ext,
        event=_optional(fields, "Event"),
        event_key=_optional(fields, "EventKey"),
        task_id=_optional(fields, "TaskId"),
        card_type=_optional(fields, "CardType"),
        response_code=_optional(fields, "ResponseCode"),
        raw=fields,
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
