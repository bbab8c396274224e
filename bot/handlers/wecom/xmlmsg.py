"""Hardened parsing of WeCom callback XML.

Every callback body is attacker-controlled until its signature is checked, so parsing goes
through defusedxml with DTDs, entity declarations and external references all forbidden,
and behind a size limit.
"""

from __future__ import annotations

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
