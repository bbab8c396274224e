"""WeCom callback crypto (WXBizMsgCrypt) and hardened XML parsing."""

from __future__ import annotations

import base64
from collections.abc import Callable

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from hypothesis import given
from hypothesis import strategies as st

from bot.handlers.wecom.crypto import (
    BadCorpId,
    BadKey,
    BadPadding,
    BadPayload,
    BadSignature,
    BadTimestamp,
    WeComCryptoError,
)
from bot.handlers.wecom.xmlmsg import (
    MAX_XML_BYTES,
    WeComXMLError,
    parse_envelope,
    parse_message,
    parse_xml,
)
from tests.wecom.callbacks import (
    CallbackCrypto,
    build_envelope,
    build_event,
    build_file,
    build_image,
    build_template_card_event,
    build_text,
)

# --- Published known-answer vectors ---------------------------------------------------------
#
# Vector A: WeCom docs, 企业内部开发 > 附录 > 加解密方案说明 > 举例说明
# (https://developer.work.weixin.qq.com/document/path/90968), also the message in the
# official samples, e.g. sbzhu/weworkapi_python callback/Sample.py (linked from the docs)
# and the official C# Sample.cs. The docs publish the token, key, CorpID, URL parameters,
# ciphertext, signature and the decrypted plaintext (shown there indented; the decrypted
# bytes separate the elements with "\n" only).
A_TOKEN = "QDG6eK"
A_KEY = "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C"
A_CORP_ID = "wx5823bf96d3bd56c7"
A_SIGNATURE = "477715d11cdb4164915debcba66cb864d751f3e6"
A_TIMESTAMP = "1409659813"
A_NONCE = "1372623149"
A_ENCRYPT = (
    "RypEvHKD8QQKFhvQ6QleEB4J58tiPdvo+rtK1I9qca6aM/wvqnLSV5zEPeusUiX5L5X/0lWfrf0QADHHhGd3Qczc"
    "dCUpj911L3vg3W/sYYvuJTs3TUUkSUXxaccAS0qhxchrRYt66wiSpGLYL42aM6A8dTT+6k4aSknmPj48kzJs8qL"
    "jvd4Xgpue06DOdnLxAUHzM6+kDZ+HMZfJYuR+LtwGc2hgf5gsijff0ekUNXZiqATP7PF5mZxZ3Izoun1s4zG4LU"
    "Mnvw2r+KqCKIw+3IQH03v+BCA9nMELNqbSf6tiWSrXJB3LAVGUcallcrw8V2t9EL4EhzJWrQUax5wLVMNS0+rUP"
    "A3k22Ncx4XXZS9o0MBH27Bo6BpNelZpS+/uh9KsNlY6bHCmJU9p8g7m3fVKn28H3KDYA5Pl/T8Z1ptDAVe0lXdQ"
    "2YoyyH2uyPIGHBZZIs2pDBS8R07+qN+E7Q=="
)
A_PLAINTEXT = (
    b"<xml><ToUserName><![CDATA[wx5823bf96d3bd56c7]]></ToUserName>\n"
    b"<FromUserName><![CDATA[mycreate]]></FromUserName>\n"
    b"<CreateTime>1409659813</CreateTime>\n"
    b"<MsgType><![CDATA[text]]></MsgType>\n"
    b"<Content><![CDATA[hello]]></Content>\n"
    b"<MsgId>4561255354251345929</MsgId>\n"
    b"<AgentID>218</AgentID>\n"
    b"</xml>"
)
# URL verification request from the same samples (comment in the official Sample.py /
# Sample.cs). The samples do not print the echostr plaintext; "1616140317555161061" is
# what independent implementations' tests assert for it.
A_VERIFY_SIGNATURE = "5c45ff5e21c57e6ad56bac8758b79b1d9ac89fd3"
A_VERIFY_TIMESTAMP = "1409659589"
A_VERIFY_NONCE = "263014780"
A_ECHOSTR = (
    "P9nAzCzyDtyTWESHep1vC5X9xho/qYX3Zpb4yKa9SKld1DsH3Iyt3tP3zNdtp+4RPcs8TgAE7OaBO+FZXvnaqQ=="
)

# Vector B: official Python sample sbzhu/weworkapi_python callback/Sample.py (xml callback).
# Its encrypted request decrypts to exactly the sample's own sRespData string.
B_TOKEN = "hJqcu3uJ9Tn2gXPmxx2w9kkCkCE2EPYo"
B_KEY = "6qkdMrq68nTKduznJYO1A37W2oEgpkMUvkttRToqhUt"
B_CORP_ID = "ww1436e0e65a779aee"
B_SIGNATURE = "0c3914025cb4b4d68103f6bfc8db550f79dcf48e"
B_TIMESTAMP = "1476422779"
B_NONCE = "1597212914"
B_BODY = (
    b"<xml><ToUserName><![CDATA[ww1436e0e65a779aee]]></ToUserName>\n"
    b"<Encrypt><![CDATA[Kl7kjoSf6DMD1zh7rtrHjFaDapSCkaOnwu3bqLc5tAybhhMl9pFeK8NslNPVdMwmBQTNoW"
    b"4mY7AIjeLvEl3NyeTkAgGzBhzTtRLNshw2AEew+kkYcD+Fq72Kt00fT0WnN87hGrW8SqGc+NcT3mu87Ha3dz1pS"
    b"Di6GaUA6A0sqfde0VJPQbZ9U+3JWcoD4Z5jaU0y9GSh010wsHF8KZD24YhmZH4ch4Ka7ilEbjbfvhKkNL65HHL0"
    b"J6EYJIZUC2pFrdkJ7MhmEbU2qARR4iQHE7wy24qy0cRX3Mfp6iELcDNfSsPGjUQVDGxQDCWjayJOpcwocugux082f"
    b"49HKYg84EpHSGXAyh+/oxwaWbvL6aSDPOYuPDGOCI8jmnKiypE+]]></Encrypt>\n"
    b"<AgentID><![CDATA[1000002]]></AgentID>\n</xml>"
)
B_PLAINTEXT = (
    "<xml><ToUserName>ww1436e0e65a779aee</ToUserName><FromUserName>ChenJiaShun</FromUserName>"
    "<CreateTime>1476422779</CreateTime><MsgType>text</MsgType><Content>你好</Content>"
    "<MsgId>1456453720</MsgId><AgentID>1000002</AgentID></xml>"
).encode()
B_VERIFY_SIGNATURE = "012bc692d0a58dd4b10f8dfe5c4ac00ae211ebeb"
B_VERIFY_TIMESTAMP = "1476416373"
B_VERIFY_NONCE = "47744683"
B_ECHOSTR = (
    "fsi1xnbH4yQh0+PJxcOdhhK6TDXkjMyhEPA7xB2TGz6b+g7xyAbEkRxN/3cNXW9qdqjnoVzEtpbhnFyq6SVHyA=="
)

# --- Helpers -------------------------------------------------------------------------------

TOKEN = "pinjian-test-token"
KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
CORP_ID = "ww_pinjian_corp"
NOW = 1_750_000_000
RANDOM16 = bytes(range(16))


@pytest.fixture
def crypto() -> CallbackCrypto:
    return CallbackCrypto(TOKEN, KEY, CORP_ID)


def aes_key(encoding_aes_key: str) -> bytes:
    return base64.b64decode(encoding_aes_key + "=")


def raw_encrypt(encoding_aes_key: str, padded_plaintext: bytes) -> str:
    """AES-CBC without any of the scheme's structure, to build malformed payloads."""
    key = aes_key(encoding_aes_key)
    enc = Cipher(algorithms.AES(key), modes.CBC(key[:16])).encryptor()
    return base64.b64encode(enc.update(padded_plaintext) + enc.finalize()).decode()


def first_block_plaintext(encoding_aes_key: str, encrypted: str) -> bytes:
    """The 16 random bytes at the start of a published ciphertext's plaintext."""
    key = aes_key(encoding_aes_key)
    dec = Cipher(algorithms.AES(key), modes.ECB()).decryptor()
    block = dec.update(base64.b64decode(encrypted)[:16]) + dec.finalize()
    return bytes(a ^ b for a, b in zip(block, key[:16], strict=True))


def signed_body(
    crypto: CallbackCrypto, encrypted: str, timestamp: str = str(NOW)
) -> tuple[str, bytes]:
    return crypto.signature(timestamp, "nonce1", encrypted), build_envelope(encrypted)


def reply_fields(reply_xml: str) -> dict[str, str]:
    return {child.tag: child.text or "" for child in parse_xml(reply_xml.encode())}


# --- Known answers -------------------------------------------------------------------------


def test_published_vector_signature_and_message() -> None:
    crypto = CallbackCrypto(A_TOKEN, A_KEY, A_CORP_ID)
    assert crypto.signature(A_TIMESTAMP, A_NONCE, A_ENCRYPT) == A_SIGNATURE
    body = build_envelope(A_ENCRYPT, to_user=A_CORP_ID, agent_id=218)
    plaintext = crypto.decrypt_message(
        A_SIGNATURE, A_TIMESTAMP, A_NONCE, body, now=int(A_TIMESTAMP) + 5
    )
    assert plaintext == A_PLAINTEXT
    message = parse_message(plaintext)
    assert (message.msg_type, message.from_user, message.to_user) == ("text", "mycreate", A_CORP_ID)
    assert (message.content, message.create_time) == ("hello", 1409659813)
    assert (message.msg_id, message.agent_id) == ("4561255354251345929", 218)


def test_published_vector_encrypts_to_published_ciphertext() -> None:
    crypto = CallbackCrypto(A_TOKEN, A_KEY, A_CORP_ID)
    random16 = first_block_plaintext(A_KEY, A_ENCRYPT)
    assert crypto.encrypt(A_PLAINTEXT, random16=random16) == A_ENCRYPT


def test_published_url_verification() -> None:
    crypto = CallbackCrypto(A_TOKEN, A_KEY, A_CORP_ID)
    echo = crypto.verify_url(A_VERIFY_SIGNATURE, A_VERIFY_TIMESTAMP, A_VERIFY_NONCE, A_ECHOSTR)
    assert echo == "1616140317555161061"


def test_official_python_sample_vector() -> None:
    crypto = CallbackCrypto(B_TOKEN, B_KEY, B_CORP_ID)
    plaintext = crypto.decrypt_message(
        B_SIGNATURE, B_TIMESTAMP, B_NONCE, B_BODY, now=int(B_TIMESTAMP)
    )
    assert plaintext == B_PLAINTEXT
    message = parse_message(plaintext)
    assert (message.from_user, message.content, message.agent_id) == (
        "ChenJiaShun",
        "你好",
        1000002,
    )
    echo = crypto.verify_url(B_VERIFY_SIGNATURE, B_VERIFY_TIMESTAMP, B_VERIFY_NONCE, B_ECHOSTR)
    assert echo.isdigit()


def test_published_vector_rejects_other_corp_id() -> None:
    crypto = CallbackCrypto(A_TOKEN, A_KEY, "wx0000000000000000")
    with pytest.raises(BadCorpId):
        crypto.decrypt(A_ENCRYPT)


# --- Round trips ---------------------------------------------------------------------------


@given(message=st.binary(max_size=2000), random16=st.binary(min_size=16, max_size=16))
def test_encrypt_decrypt_round_trip(message: bytes, random16: bytes) -> None:
    crypto = CallbackCrypto(TOKEN, KEY, CORP_ID)
    encrypted = crypto.encrypt(message, random16=random16)
    assert len(base64.b64decode(encrypted)) % 32 == 0
    assert crypto.decrypt(encrypted) == message


# Characters XML 1.0 can carry verbatim: no control characters, surrogates or non-characters.
XML_TEXT = st.text(
    st.characters(exclude_categories=("Cc", "Cs", "Cn")) | st.sampled_from("]]>"), min_size=1
)


@given(text=st.text(max_size=500), nonce=XML_TEXT)
def test_encrypt_message_round_trip(text: str, nonce: str) -> None:
    crypto = CallbackCrypto(TOKEN, KEY, CORP_ID)
    reply = build_text("corp", text, to_user="inspector1")
    reply_xml = crypto.encrypt_message(reply, nonce, str(NOW))
    fields = reply_fields(reply_xml)
    assert (fields["TimeStamp"], fields["Nonce"]) == (str(NOW), nonce)
    got = crypto.decrypt_message(
        fields["MsgSignature"], str(NOW), nonce, reply_xml.encode(), now=NOW
    )
    assert got == reply


def test_random_prefix_differs_between_encryptions(crypto: CallbackCrypto) -> None:
    assert crypto.encrypt("same") != crypto.encrypt("same")


def test_random16_must_be_16_bytes(crypto: CallbackCrypto) -> None:
    with pytest.raises(ValueError, match="16 bytes"):
        crypto.encrypt("x", random16=b"short")


# --- Rejections ----------------------------------------------------------------------------


def test_bad_signature(crypto: CallbackCrypto) -> None:
    encrypted = crypto.encrypt("hello")
    signature, body = signed_body(crypto, encrypted)
    wrong = "0" * 40
    with pytest.raises(BadSignature):
        crypto.decrypt_message(wrong, str(NOW), "nonce1", body, now=NOW)
    with pytest.raises(BadSignature):
        crypto.decrypt_message(signature, str(NOW), "other-nonce", body, now=NOW)
    with pytest.raises(BadSignature):
        crypto.verify_url(wrong, str(NOW), "nonce1", encrypted)
    with pytest.raises(BadSignature):
        crypto.verify_signature("签名", str(NOW), "nonce1", encrypted)
    other_token = CallbackCrypto("another-token", KEY, CORP_ID)
    with pytest.raises(BadSignature):
        other_token.decrypt_message(signature, str(NOW), "nonce1", body, now=NOW)


@pytest.mark.parametrize("offset", [-301, 301, -86_400])
def test_timestamp_outside_window(crypto: CallbackCrypto, offset: int) -> None:
    timestamp = str(NOW + offset)
    signature, body = signed_body(crypto, crypto.encrypt("hello"), timestamp)
    with pytest.raises(BadTimestamp):
        crypto.decrypt_message(signature, timestamp, "nonce1", body, now=NOW)


@pytest.mark.parametrize("offset", [-300, 0, 300])
def test_timestamp_inside_window(crypto: CallbackCrypto, offset: int) -> None:
    timestamp = str(NOW + offset)
    signature, body = signed_body(crypto, crypto.encrypt("hello"), timestamp)
    assert crypto.decrypt_message(signature, timestamp, "nonce1", body, now=NOW) == b"hello"


@pytest.mark.parametrize("timestamp", ["", "abc", "-5", "1e9", "١٢٣"])
def test_timestamp_not_an_integer(crypto: CallbackCrypto, timestamp: str) -> None:
    signature, body = signed_body(crypto, crypto.encrypt("hello"), timestamp)
    with pytest.raises(BadTimestamp):
        crypto.decrypt_message(signature, timestamp, "nonce1", body, now=NOW)


def test_wrong_corp_id(crypto: CallbackCrypto) -> None:
    other = CallbackCrypto(TOKEN, KEY, "ww_other_corp")
    encrypted = other.encrypt("hello")
    signature, body = signed_body(crypto, encrypted)
    with pytest.raises(BadCorpId):
        crypto.decrypt_message(signature, str(NOW), "nonce1", body, now=NOW)
    # A CorpID that is a prefix of ours must not match either.
    with pytest.raises(BadCorpId):
        crypto.decrypt(CallbackCrypto(TOKEN, KEY, CORP_ID[:-1]).encrypt("hello"))


def _tamper_last_plaintext_byte(encrypted: str, new_value: int, old_value: int) -> str:
    """Flip bits in the second-to-last ciphertext block so that, under CBC, the last
    plaintext byte (the pad length) changes from ``old_value`` to ``new_value``."""
    raw = bytearray(base64.b64decode(encrypted))
    raw[-17] ^= old_value ^ new_value
    return base64.b64encode(bytes(raw)).decode()


@pytest.mark.parametrize("new_pad", [0, 33, 255])
def test_bad_padding_value(crypto: CallbackCrypto, new_pad: int) -> None:
    # 16 + 4 + 5 + len(CORP_ID)=15 = 40 bytes -> 24 bytes of padding.
    encrypted = crypto.encrypt("hello", random16=RANDOM16)
    tampered = _tamper_last_plaintext_byte(encrypted, new_pad, 24)
    signature, body = signed_body(crypto, tampered)
    with pytest.raises(BadPadding):
        crypto.decrypt_message(signature, str(NOW), "nonce1", body, now=NOW)


def test_bad_padding_bytes_not_all_equal(crypto: CallbackCrypto) -> None:
    encrypted = crypto.encrypt("hello", random16=RANDOM16)
    with pytest.raises(BadPadding):
        crypto.decrypt(_tamper_last_plaintext_byte(encrypted, 25, 24))


def test_tampered_last_block_is_rejected(crypto: CallbackCrypto) -> None:
    raw = bytearray(base64.b64decode(crypto.encrypt("hello", random16=RANDOM16)))
    raw[-1] ^= 0x01
    with pytest.raises(WeComCryptoError):
        crypto.decrypt(base64.b64encode(bytes(raw)).decode())


def test_padding_longer_than_plaintext(crypto: CallbackCrypto) -> None:
    with pytest.raises(BadPadding):
        crypto.decrypt(raw_encrypt(KEY, b"\x00" * 15 + b"\x20"))


@pytest.mark.parametrize(
    "plaintext",
    [
        # Length field far larger than the message.
        RANDOM16 + (10_000).to_bytes(4, "big") + b"hello" + CORP_ID.encode() + bytes([24]) * 24,
        # Too short to hold the random prefix and length field.
        b"short" + bytes([27]) * 27,
    ],
)
def test_bad_structure(crypto: CallbackCrypto, plaintext: bytes) -> None:
    with pytest.raises(BadPayload):
        crypto.decrypt(raw_encrypt(KEY, plaintext))


@pytest.mark.parametrize(
    "encrypted",
    [
        "not base64!",
        "QUJD\nREVG",
        "QUJDRA",  # missing padding
        "QUJDRA==QUJD",  # data after padding
        "密文",
        "",
    ],
)
def test_malformed_base64(crypto: CallbackCrypto, encrypted: str) -> None:
    with pytest.raises(BadPayload):
        crypto.decrypt(encrypted)


@pytest.mark.parametrize("size", [1, 15, 20, 33])
def test_ciphertext_not_multiple_of_16(crypto: CallbackCrypto, size: int) -> None:
    with pytest.raises(BadPayload, match="multiple of 16"):
        crypto.decrypt(base64.b64encode(b"\x01" * size).decode())


def test_echostr_must_be_utf8(crypto: CallbackCrypto) -> None:
    echostr = crypto.encrypt(b"\xff\xfe")
    signature = crypto.signature("1", "n", echostr)
    with pytest.raises(BadPayload):
        crypto.verify_url(signature, "1", "n", echostr)


@pytest.mark.parametrize(
    "key", ["", KEY[:42], KEY + "A", KEY[:42] + "=", KEY[:42] + "-", KEY[:42] + "é"]
)
def test_bad_encoding_aes_key(key: str) -> None:
    with pytest.raises(BadKey, match="43 base64 characters") as excinfo:
        CallbackCrypto(TOKEN, key, CORP_ID)
    assert not key or key not in str(excinfo.value)


def test_errors_carry_no_secrets(crypto: CallbackCrypto) -> None:
    raised: list[WeComCryptoError] = []
    encrypted = crypto.encrypt("secret message body", random16=RANDOM16)
    signature, body = signed_body(crypto, encrypted)
    attempts: list[Callable[[], object]] = [
        lambda: crypto.decrypt_message("0" * 40, str(NOW), "nonce1", body, now=NOW),
        lambda: crypto.decrypt_message(signature, str(NOW), "nonce1", body, now=NOW + 999),
        lambda: crypto.decrypt(_tamper_last_plaintext_byte(encrypted, 0, 24)),
        lambda: CallbackCrypto(TOKEN, KEY, "ww_x").decrypt(encrypted),
        lambda: crypto.decrypt("%%%"),
        lambda: crypto.decrypt_message(signature, str(NOW), "n", b"<xml/>", now=NOW),
    ]
    for attempt in attempts:
        with pytest.raises(WeComCryptoError) as excinfo:
            attempt()
        raised.append(excinfo.value)
    key_b64 = base64.b64encode(aes_key(KEY)).decode()
    for exc in raised:
        text = str(exc) + repr(exc.args)
        for secret in (TOKEN, KEY, key_b64, aes_key(KEY).hex(), "secret message body"):
            assert secret not in text


# --- XML hardening -------------------------------------------------------------------------

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
]>
<xml><ToUserName>&lol3;</ToUserName><Encrypt>abc</Encrypt></xml>"""
EXTERNAL_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE xml [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<xml><Encrypt>&xxe;</Encrypt></xml>"""
DOCTYPE_ONLY = b'<?xml version="1.0"?><!DOCTYPE xml><xml><Encrypt>abc</Encrypt></xml>'


@pytest.mark.parametrize("body", [BILLION_LAUGHS, EXTERNAL_ENTITY, DOCTYPE_ONLY])
def test_xml_with_dtd_or_entities_is_refused(crypto: CallbackCrypto, body: bytes) -> None:
    with pytest.raises(WeComXMLError, match="DOCTYPE"):
        parse_envelope(body)
    with pytest.raises(WeComXMLError):
        parse_message(body)
    with pytest.raises(BadPayload):
        crypto.decrypt_message("0" * 40, str(NOW), "n", body, now=NOW)


def test_oversized_body(crypto: CallbackCrypto) -> None:
    body = build_envelope("A" * MAX_XML_BYTES)
    with pytest.raises(WeComXMLError, match="larger than"):
        parse_envelope(body)
    with pytest.raises(BadPayload):
        crypto.decrypt_message("0" * 40, str(NOW), "n", body, now=NOW)


@pytest.mark.parametrize(
    "body",
    [
        b"<xml><ToUserName>corp</ToUserName></xml>",
        b"<xml><Encrypt>   </Encrypt></xml>",
        b"<xml><Encrypt><Nested>x</Nested></Encrypt></xml>",
    ],
)
def test_missing_encrypt_element(crypto: CallbackCrypto, body: bytes) -> None:
    with pytest.raises(WeComXMLError, match="missing Encrypt"):
        parse_envelope(body)
    with pytest.raises(BadPayload, match="missing Encrypt"):
        crypto.decrypt_message("0" * 40, str(NOW), "n", body, now=NOW)


@pytest.mark.parametrize(
    "body", [b"", b"not xml", b"<xml><a></xml>", b"<root><Encrypt>x</Encrypt></root>"]
)
def test_malformed_xml(body: bytes) -> None:
    with pytest.raises(WeComXMLError):
        parse_envelope(body)


def test_parse_envelope_fields() -> None:
    envelope = parse_envelope(build_envelope("ENC", to_user="ww1", agent_id=1000002))
    assert envelope == {"ToUserName": "ww1", "AgentID": "1000002", "Encrypt": "ENC"}


# --- Message parsing -----------------------------------------------------------------------


def test_parse_text_keeps_content_verbatim() -> None:
    content = "  3号楼 ]]> <b>地面</b> 有水渍 \n"
    message = parse_message(build_text("zhangsan", content, msg_id=77, create_time=NOW))
    assert message.msg_type == "text"
    assert message.content == content
    assert (message.from_user, message.to_user, message.create_time) == ("zhangsan", "corp", NOW)
    assert (message.msg_id, message.agent_id) == ("77", 1000002)
    assert message.raw["MsgType"] == "text"


def test_parse_image() -> None:
    message = parse_message(build_image("zhangsan", "MEDIA1", pic_url="https://p/1.jpg"))
    assert (message.msg_type, message.media_id, message.pic_url) == (
        "image",
        "MEDIA1",
        "https://p/1.jpg",
    )
    assert message.content is None


def test_parse_file() -> None:
    message = parse_message(build_file("zhangsan", "MEDIA2", "整改报告.final.pdf"))
    assert message.msg_type == "file"
    assert (message.media_id, message.file_name, message.file_ext) == (
        "MEDIA2",
        "整改报告.final.pdf",
        "pdf",
    )


@pytest.mark.parametrize("event", ["enter_agent", "subscribe"])
def test_parse_plain_events(event: str) -> None:
    message = parse_message(build_event("zhangsan", event))
    assert (message.msg_type, message.event, message.event_key) == ("event", event, "")
    assert message.msg_id is None


def test_parse_template_card_event_ignores_selected_items() -> None:
    xml = build_template_card_event("zhangsan", "task-1", "pass", "RC123").replace(
        b"</xml>",
        b"<SelectedItems><SelectedItem><QuestionKey>q</QuestionKey></SelectedItem></SelectedItems>"
        b"</xml>",
    )
    message = parse_message(xml)
    assert message.event == "template_card_event"
    assert (message.task_id, message.event_key, message.response_code) == (
        "task-1",
        "pass",
        "RC123",
    )
    assert message.card_type == "button_interaction"
    assert "SelectedItems" not in message.raw


@pytest.mark.parametrize(
    ("xml", "match"),
    [
        (
            b"<xml><FromUserName>u</FromUserName><ToUserName>c</ToUserName><CreateTime>1</CreateTime></xml>",
            "MsgType",
        ),
        (
            b"<xml><MsgType>text</MsgType><ToUserName>c</ToUserName><CreateTime>1</CreateTime></xml>",
            "FromUserName",
        ),
        (
            b"<xml><MsgType>text</MsgType><FromUserName>u</FromUserName><ToUserName>c</ToUserName>"
            b"<CreateTime>soon</CreateTime></xml>",
            "CreateTime",
        ),
        (
            b"<xml><MsgType>text</MsgType><FromUserName>u</FromUserName><ToUserName>c</ToUserName>"
            b"<CreateTime>1</CreateTime><AgentID>x</AgentID></xml>",
            "AgentID",
        ),
    ],
)
def test_parse_message_rejects_incomplete(xml: bytes, match: str) -> None:
    with pytest.raises(WeComXMLError, match=match):
        parse_message(xml)


def test_incoming_is_frozen_and_hashable() -> None:
    message = parse_message(build_text("u", "hi", create_time=1))
    with pytest.raises(AttributeError):
        message.content = "changed"  # type: ignore[misc]
    assert hash(message) == hash(parse_message(build_text("u", "hi", create_time=1)))
