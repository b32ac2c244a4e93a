"""Tracker credentials encrypted at rest with READYBOT_SECRET_KEY (Fernet: AES + HMAC).

Any passphrase works as a key: it is stretched with HKDF into a Fernet key, so an
operator does not have to generate a special 32-byte base64 string.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

# Used only when READYBOT_SECRET_KEY is unset (the embedded demo); `serve` warns about it.
DEMO_KEY = "readybot-demo-key-not-for-production"


class SecretBox:
    def __init__(self, passphrase: str | None):
        self.is_demo_key = not passphrase
        material = (passphrase or DEMO_KEY).encode()
        key = HKDF(algorithm=hashes.SHA256(), length=32, salt=b"readybot", info=b"credentials").derive(material)
        self._fernet = Fernet(base64.urlsafe_b64encode(key))
        self._mac_key = hashlib.sha256(b"token-hash:" + material).digest()

    def seal(self, secret: str) -> str:
        return self._fernet.encrypt(secret.encode()).decode()

    def open(self, sealed: str) -> str:
        try:
            return self._fernet.decrypt(sealed.encode()).decode()
        except InvalidToken:
            raise ValueError("stored credential cannot be decrypted: was READYBOT_SECRET_KEY changed?") from None

    def token_hash(self, token: str) -> str:
        """A keyed hash for looking up bearer tokens without storing them."""
        return hmac.new(self._mac_key, token.encode(), hashlib.sha256).hexdigest()
