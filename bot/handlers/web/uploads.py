"""Photo uploads from the page: a multipart POST read as a stream, never past the limit, and
an image type decided by the file's first bytes, not by what the browser declared.

Fields, in this order: `size` (the file's size as the browser knows it), `name`, and `file`.
A page that already knows the file is too large leaves `file` out; the declared size is only
ever used to refuse, never to accept.
"""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import BodyPartReader, web
from aiohttp.http_exceptions import HttpProcessingError

CHUNK = 64 * 1024
FIELD_LIMIT = 512
MULTIPART_OVERHEAD = 64 * 1024

_FTYP_BRANDS = {
    b"heic": "image/heic",
    b"heix": "image/heic",
    b"heim": "image/heic",
    b"heis": "image/heic",
    b"mif1": "image/heif",
    b"msf1": "image/heif",
    b"avif": "image/avif",
}


def sniff_image(head: bytes) -> str | None:
    """The image type the bytes really are (JPEG, PNG, GIF, WebP, HEIC/HEIF, AVIF), or None."""
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head[4:8] == b"ftyp":
        return _FTYP_BRANDS.get(head[8:12])
    return None


class BadUpload(ValueError):
    """The request is not an upload this page would send."""


@dataclass(frozen=True)
class Upload:
    name: str
    size: int
    data: bytes | None
    """None when the file was too large (and not kept)."""

    @property
    def too_large(self) -> bool:
        return self.data is None


async def _field(part: BodyPartReader) -> str:
    data = bytearray()
    while chunk := await part.read_chunk(FIELD_LIMIT + 1):
        data += chunk
        if len(data) > FIELD_LIMIT:
            raise BadUpload(f"field {part.name} too long")
    return data.decode("utf-8", errors="replace").strip()


async def read_upload(request: web.Request, limit: int) -> Upload:
    """Read the upload; a file over `limit` bytes is reported too large and not kept."""
    if (request.content_length or 0) > limit + MULTIPART_OVERHEAD:
        return Upload("", request.content_length or 0, None)
    try:
        return await _parse(request, limit)
    except BadUpload:
        raise
    except (AssertionError, ValueError, KeyError, HttpProcessingError) as exc:
        raise BadUpload("malformed multipart body") from exc


async def _parse(request: web.Request, limit: int) -> Upload:
    reader = await request.multipart()
    declared, name, data = 0, "", None
    while (part := await reader.next()) is not None:
        if not isinstance(part, BodyPartReader):
            raise BadUpload("nested multipart")
        if part.name == "size":
            text = await _field(part)
            if not text.isdigit() or len(text) > 15:
                raise BadUpload("bad size")
            declared = int(text)
        elif part.name == "name":
            name = (await _field(part))[:200]
        elif part.name == "file":
            name = name or (part.filename or "")[:200]
            buffer = bytearray()
            while chunk := await part.read_chunk(CHUNK):
                buffer += chunk
                if len(buffer) > limit:
                    return Upload(name, max(declared, len(buffer)), None)
            data = bytes(buffer)
        else:
            raise BadUpload(f"unexpected field {part.name}")
    if data is None:
        if declared > limit:
            return Upload(name, declared, None)
        raise BadUpload("no file")
    return Upload(name, len(data), data)
