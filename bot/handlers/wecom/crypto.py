"""WeCom callback crypto: the official WXBizMsgCrypt scheme on the ``cryptography`` library.

Scheme (WeCom docs, 加解密方案说明):

* ``AESKey = base64decode(EncodingAESKey + "=")`` (32 bytes), ``IV = AESKey[:16]``;
* plaintext = 16 random bytes + 4-byte big-endian message length + message + CorpID,
  PKCS#7-padded to a multiple of 32 bytes, encrypted with AES-256-CBC, then base64;
* ``msg_signature = sha1(''.join(sorted([token, timestamp, nonce, encrypt])))`` in hex.

No error raised here carries the token, the key or decrypted bytes in its message.
"""

from __future__ import annotations

import binascii
import hashlib
import hmac
import re

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from bot.handlers.wecom.xmlmsg import WeComXMLError, parse_envelope

_PAD_BLOCK = 32
# Unix seconds have 10 digits until the year 2286; anything much longer is not a timestamp
# (and Python refuses to turn more than 4,300 digits into an int).
MAX_TIMESTAMP_DIGITS = 12
_AES_BLOCK = 16
_KEY_RE = re.compile(r"[A-Za-z0-9+/]{43}")


class WeComCryptoError(Exception):
    """Base class for every rejection by :class:`WeComCrypto`."""


class BadKey(WeComCryptoError, ValueError):
    """The configured EncodingAESKey is unusable."""


class BadSignature(WeComCryptoError):
    """msg_signature does not match token, timestamp, nonce and ciphertext."""


class BadTimestamp(WeComCryptoError):
    """The timestamp is not an integer or too far from the current time."""


class BadPadding(WeComCryptoError):
    """The decrypted plaintext does not end in valid PKCS#7 padding (block 32)."""


class BadCorpId(WeComCryptoError):
    """The message was encrypted for another CorpID (ReceiveId)."""


class BadPayload(WeComCryptoError):
    """Malformed ciphertext, envelope or plaintext structure."""


class WeComCrypto:
    """Signs, verifies and decrypts WeCom callback payloads for one app (the bot only
    receives encrypted callbacks; what WeCom's side does is in tests/wecom/callbacks.py)."""

    def __init__(self, token: str, encoding_aes_key: str, corp_id: str) -> None:
        if not _KEY_RE.fullmatch(encoding_aes_key):
            raise BadKey(
                "EncodingAESKey must be exactly 43 base64 characters "
                f"(got {len(encoding_aes_key)} characters)"
            )
        self._token = token
        # 43 base64 characters plus "=" always decode to exactly 32 bytes.
        self._key = binascii.a2b_base64(encoding_aes_key + "=")
        self._corp_id = corp_id.encode()

    def _cipher(self) -> Cipher[modes.CBC]:
        return Cipher(algorithms.AES(self._key), modes.CBC(self._key[:_AES_BLOCK]))

    def signature(self, timestamp: str, nonce: str, encrypted: str) -> str:
        """SHA1 hex digest of the sorted concatenation of token, timestamp, nonce, encrypted."""
        joined = "".join(sorted([self._token, timestamp, nonce, encrypted]))
        return hashlib.sha1(joined.encode()).hexdigest()

    def verify_signature(
        self, msg_signature: str, timestamp: str, nonce: str, encrypted: str
    ) -> None:
        """Raise :class:`BadSignature` unless ``msg_signature`` matches (constant time)."""
        expected = self.signature(timestamp, nonce, encrypted).encode()
        if not hmac.compare_digest(expected, msg_signature.encode()):
            raise BadSignature("msg_signature does not match")

    def decrypt(self, encrypted: str) -> bytes:
        """Decrypt and validate one base64 ciphertext; returns the message bytes.

        Call only after the signature has been verified: the signature is what
        authenticates the ciphertext, so padding errors here cannot serve as an oracle.
        """
        try:
            ciphertext = binascii.a2b_base64(encrypted, strict_mode=True)
        except ValueError:
            raise BadPayload("ciphertext is not valid base64") from None
        if not ciphertext or len(ciphertext) % _AES_BLOCK:
            raise BadPayload("ciphertext length is not a positive multiple of 16 bytes")
        decryptor = self._cipher().decryptor()
        padded = decryptor.update(ciphertext) + decryptor.finalize()
        pad = padded[-1]
        if not 1 <= pad <= min(_PAD_BLOCK, len(padded)) or padded[-pad:] != bytes([pad]) * pad:
            raise BadPadding("invalid PKCS#7 padding")
        body = padded[:-pad]
        if len(body) < _AES_BLOCK + 4:
            raise BadPayload("plaintext too short for the random prefix and length field")
        length = int.from_bytes(body[_AES_BLOCK : _AES_BLOCK + 4], "big")
        start = _AES_BLOCK + 4
        if start + length > len(body):
            raise BadPayload("message length field exceeds the plaintext")
        if not hmac.compare_digest(body[start + length :], self._corp_id):
            raise BadCorpId("message was not encrypted for this CorpID")
        return body[start : start + length]

    def verify_url(self, msg_signature: str, timestamp: str, nonce: str, echostr: str) -> str:
        """Handle the URL-verification GET: check the signature, return the decrypted echostr.

        ``echostr`` must already be URL-decoded.
        """
        self.verify_signature(msg_signature, timestamp, nonce, echostr)
        try:
            return self.decrypt(echostr).decode()
        except UnicodeDecodeError:
            raise BadPayload("echostr plaintext is not UTF-8") from None

    def decrypt_message(
        self,
        msg_signature: str,
        timestamp: str,
        nonce: str,
        body_xml: bytes,
        *,
        now: float,
        max_skew: int = 300,
    ) -> bytes:
        """Verify and decrypt a callback POST body; returns the plaintext message XML.

        The signature is checked before the timestamp, so :class:`BadTimestamp` means an
        authentic but stale (replayed) or clock-skewed request, never a forgery.
        """
        try:
            encrypted = parse_envelope(body_xml)["Encrypt"]
        except WeComXMLError as exc:
            raise BadPayload(f"callback envelope rejected: {exc}") from None
        self.verify_signature(msg_signature, timestamp, nonce, encrypted)
        if (
            not timestamp.isascii()
            or not timestamp.isdigit()
            or len(timestamp) > MAX_TIMESTAMP_DIGITS
        ):
            raise BadTimestamp("timestamp is not a non-negative integer of at most 12 digits")
        if abs(now - int(timestamp)) > max_skew:
            raise BadTimestamp(f"timestamp is more than {max_skew}s away from now")
        return self.decrypt(encrypted)
