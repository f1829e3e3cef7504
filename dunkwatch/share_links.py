"""Read-only links for a coach: one clip or one session reel, for `review.share_days`, without the
page's token. A link carries what it shows, the host it was made for and its expiry, signed with
HMAC-SHA256 under a key in the state dir; rotating the key refuses every link given out so far."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

from dunkwatch.fsutil import atomic_write_text

KEY_FILE = "share.key"


class SharedKind(str, Enum):
    CLIP = "clip"  # ident: "<video id>-<clip number>"
    SESSION = "session"  # ident: the session id; its reel

    def __str__(self) -> str:
        return self.value


class Refused(Enum):
    """Why a link is not honoured, as the HTTP status it gets."""

    MALFORMED = 404  # not a link we make, or made for another host: nothing is there
    FORGED = 403  # the signature does not match (altered, or the key was rotated)
    EXPIRED = 410


@dataclass(frozen=True)
class SharedItem:
    kind: SharedKind
    ident: str
    host: str  # the Host the link was made for
    expires: int  # Unix time


class ShareKey:
    def __init__(self, state_dir: Path) -> None:
        self.path = Path(state_dir) / KEY_FILE

    def _key(self) -> bytes:
        try:
            return bytes.fromhex(self.path.read_text(encoding="ascii").strip())
        except (OSError, ValueError):
            return self.rotate()

    def rotate(self) -> bytes:
        """A new key: every link made with the old one is refused from now on."""
        key = secrets.token_bytes(32)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(self.path, key.hex() + "\n")
        self.path.chmod(0o600)
        return key

    def _sign(self, payload: str) -> str:
        mac = hmac.new(self._key(), payload.encode(), hashlib.sha256).digest()[:18]
        return base64.urlsafe_b64encode(mac).decode().rstrip("=")

    def link(self, kind: SharedKind, ident: str, host: str, days: int, now: float | None = None) -> str:
        """The token of a link: `/s/<token>` shows the item, `/s/<token>/video` serves it."""
        expires = int((time.time() if now is None else now) + days * 86400)
        payload = f"{kind.value}|{ident}|{host}|{expires}"
        encoded = base64.urlsafe_b64encode(payload.encode()).decode().rstrip("=")
        return f"{encoded}.{self._sign(payload)}"

    def check(self, token: str, host: str, now: float | None = None) -> SharedItem | Refused:
        try:
            encoded, signature = token.split(".")
            payload = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)).decode()
            kind, ident, made_for, expires = payload.split("|")
            item = SharedItem(SharedKind(kind), ident, made_for, int(expires))
        except ValueError:  # also binascii.Error and UnicodeDecodeError
            return Refused.MALFORMED
        if item.host != host:
            return Refused.MALFORMED
        if not hmac.compare_digest(signature, self._sign(payload)):
            return Refused.FORGED
        if item.expires < (time.time() if now is None else now):
            return Refused.EXPIRED
        return item
