"""Hypothesis strategies for hostile input: bytes in every encoding (and in none), header
values, paths and query strings as raw bytes, JSON of any shape and depth, multipart bodies."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote_from_bytes

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from tests.resilience.scale import LONG, scaled

# Each property's examples stay bounded: the whole suite adds a few seconds to a run.
HOSTILE = settings(
    max_examples=scaled(60, 2000),
    deadline=None,
    database=None,
    derandomize=not LONG,
    suppress_health_check=list(HealthCheck),
)

# Text with what breaks naive code: lone surrogates, NUL and controls, bidi marks, astral
# characters, Chinese, markup.
TRICKY = st.sampled_from(
    ["\ud800", "\udfff", "\x00", "\x1b", "\u202e", "\ufeff", "😀", "检", "<b>", "&amp;", "%00"]
)
texts = st.lists(st.one_of(st.text(max_size=20), TRICKY), max_size=8).map("".join)
# The same without lone surrogates: text that can be encoded as UTF-8 at all.
encodable = texts.map(lambda text: text.encode("utf-8", "replace").decode())


def _encode(text: str, encoding: str) -> bytes:
    return text.encode(encoding, "surrogatepass" if encoding.startswith("utf") else "replace")


# Bytes as a hostile client sends them: any bytes, or text in an encoding the server may not
# expect (UTF-8 with surrogates encoded anyway, UTF-16, GB18030, Latin-1).
encoded = st.one_of(
    st.binary(max_size=200),
    st.builds(_encode, texts, st.sampled_from(["utf-8", "utf-16", "gb18030", "latin-1"])),
)

# Header values: anything but CR and LF (which would end the header, not fill it).
header_values = encoded.map(lambda raw: raw.replace(b"\r", b"").replace(b"\n", b""))

# A path segment or query value: raw bytes (no space, CR, LF, "#", "?") or percent-encoded.
raw_segments = encoded.map(lambda raw: bytes(b for b in raw if b not in b" \r\n#?\t") or b"x")
quoted_segments = encoded.map(lambda raw: quote_from_bytes(raw, safe=b"").encode())
segments = st.one_of(raw_segments, quoted_segments)


def _query(pairs: list[tuple[bytes, bytes]]) -> bytes:
    return b"&".join(key + b"=" + value for key, value in pairs)


def queries(keys: list[str]) -> st.SearchStrategy[bytes]:
    """Query strings with the entry's own keys (and others), values of any bytes."""
    key = st.one_of(st.sampled_from([k.encode() for k in keys]), segments)
    value = st.one_of(segments, st.integers().map(lambda n: str(n).encode()))
    return st.lists(st.tuples(key, value), max_size=6).map(_query)


json_values = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.floats(allow_nan=True, allow_infinity=True),
        texts,
    ),
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(texts, children, max_size=4),
    ),
    max_leaves=20,
)


def _dumps(value: Any) -> bytes:
    return json.dumps(value).encode()  # lone surrogates become "\\ud800" escapes


def deep(depth: int, opener: bytes) -> bytes:
    closer = b"]" if opener == b"[" else b"}"
    if opener == b"{":
        return b'{"a":' * depth + b"1" + closer * depth
    return opener * depth + closer * depth


# JSON bodies: valid JSON of any shape, objects with the entry's own keys, nesting far deeper
# than a parser follows, and bytes that are not JSON at all.
def json_bodies(keys: dict[str, st.SearchStrategy[Any]]) -> st.SearchStrategy[bytes]:
    shaped = st.fixed_dictionaries({}, optional=keys).map(_dumps)
    nested = st.builds(deep, st.integers(1, 9000), st.sampled_from([b"[", b"{"]))
    return st.one_of(json_values.map(_dumps), shaped, nested, encoded)


def multipart(boundary: bytes, parts: list[tuple[bytes, bytes, bytes]]) -> bytes:
    """A multipart body of (disposition parameters, extra header, content) parts."""
    out = b""
    for params, extra, content in parts:
        out += b"--" + boundary + b"\r\nContent-Disposition: form-data; " + params + b"\r\n"
        if extra:
            out += extra + b"\r\n"
        out += b"\r\n" + content + b"\r\n"
    return out + b"--" + boundary + b"--\r\n"


def multipart_parts() -> st.SearchStrategy[list[tuple[bytes, bytes, bytes]]]:
    name = st.one_of(st.sampled_from([b"size", b"name", b"file"]), header_values)
    params = st.one_of(
        st.builds(lambda n: b'name="' + n + b'"', name),
        st.builds(lambda n, f: b'name="' + n + b'"; filename="' + f + b'"', name, header_values),
        header_values,
    )
    extra = st.one_of(st.just(b""), header_values.map(lambda v: b"Content-Type: " + v))
    content = st.one_of(
        encoded,
        st.just(b"\x89PNG\r\n\x1a\n" + bytes(64)),
        st.just(b"\xff\xd8\xff" + bytes(64)),
        st.integers(-5, 10**20).map(lambda n: str(n).encode()),
    )
    return st.lists(st.tuples(params, extra, content), max_size=4)
