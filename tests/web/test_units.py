"""Pieces of the web channel on their own: image sniffing, links and the live hub."""

from __future__ import annotations

import pytest

from bot.handlers.web.hub import Hub
from bot.handlers.web.links import chat_url, login_link
from bot.handlers.web.uploads import sniff_image
from tests.web.helpers import png

pytestmark = pytest.mark.database_neutral


@pytest.mark.parametrize(
    ("head", "mime"),
    [
        (png(4, 4), "image/png"),
        (b"\xff\xd8\xff\xe0\x00\x10JFIF", "image/jpeg"),
        (b"GIF89a\x01\x00", "image/gif"),
        (b"RIFF\x10\x00\x00\x00WEBPVP8 ", "image/webp"),
        (b"\x00\x00\x00\x18ftypheic\x00\x00", "image/heic"),
        (b"\x00\x00\x00\x18ftypmif1\x00\x00", "image/heif"),
        (b"\x00\x00\x00\x18ftypavif\x00\x00", "image/avif"),
        (b"\x00\x00\x00\x18ftypisom\x00\x00", None),
        (b"<svg xmlns='http://www.w3.org/2000/svg'/>", None),
        (b"%PDF-1.7", None),
        (b"", None),
    ],
)
def test_images_are_recognised_by_their_bytes(head: bytes, mime: str | None) -> None:
    assert sniff_image(head[:32]) == mime


def test_links_point_at_the_chat_page_with_the_token_in_the_fragment() -> None:
    assert chat_url("127.0.0.1", 8080) == "http://127.0.0.1:8080/chat"
    assert chat_url("0.0.0.0", 80) == "http://127.0.0.1:80/chat"
    assert chat_url("::1", 8080) == "http://[::1]:8080/chat"
    assert login_link("pj.example", 8080, "abc") == "http://pj.example:8080/chat#t=abc"


def test_a_page_that_falls_behind_is_dropped_and_streams_close_on_shutdown() -> None:
    hub = Hub(queue_size=2)
    with hub.subscribe("7") as slow, hub.subscribe("7") as other, hub.subscribe("8") as elsewhere:
        for seq in range(3):
            hub.publish("7", ("message", {"seq": seq}))
        assert slow.overflowed and slow.queue.qsize() == 2
        assert elsewhere.queue.empty()
        hub.close_all()
        assert other.overflowed and elsewhere.queue.get_nowait() is None
    hub.publish("7", ("message", {"seq": 9}))
    assert slow.queue.qsize() == 2, "a closed subscription gets nothing more"
