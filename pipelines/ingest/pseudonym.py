"""Stable pseudonymous person keys: a keyed HMAC of the national ID.

person_key = first 32 hex characters of HMAC-SHA256(key, national_id). The same person gets the
same key in every quarter and unit (annual results follow people across transfers), yet without
the key nobody can recompute it from an ID list, unlike a plain hash of an 18-digit number with a
known structure. The key comes from ASSESSMENT_PSEUDONYM_KEY; without it a fixed demo key is used
and every run says so loudly, because keys made with a published key protect nothing.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

ENV_VAR = "ASSESSMENT_PSEUDONYM_KEY"
DEMO_KEY = "binzhou-assessment-DEMO-key-not-for-real-data"
KEY_HEX_CHARS = 32
MIN_KEY_CHARS = 16
DEMO_WARNING = (
    f"!!! {ENV_VAR} is not set: person keys are made with the PUBLIC DEMO KEY. They are stable but "
    "not secret; anyone with the code can link them back to national IDs. Set a secret key of at "
    f"least {MIN_KEY_CHARS} characters before loading real submissions. !!!"
)


@dataclass(frozen=True)
class PseudonymKey:
    secret: bytes
    is_demo: bool

    @property
    def fingerprint(self) -> str:
        """Identifies the key in metadata without revealing it."""
        return hmac.new(self.secret, b"fingerprint", hashlib.sha256).hexdigest()[:8]


def load_key(environ: Mapping[str, str] | None = None) -> PseudonymKey:
    env = os.environ if environ is None else environ
    value = env.get(ENV_VAR, "")
    if not value:
        return PseudonymKey(DEMO_KEY.encode("utf-8"), is_demo=True)
    if len(value) < MIN_KEY_CHARS:
        raise ValueError(f"{ENV_VAR} must be at least {MIN_KEY_CHARS} characters long")
    return PseudonymKey(value.encode("utf-8"), is_demo=False)


def person_key(key: PseudonymKey, national_id: str) -> str:
    return hmac.new(key.secret, national_id.encode("utf-8"), hashlib.sha256).hexdigest()[:KEY_HEX_CHARS]


def person_keys(key: PseudonymKey, national_ids: Iterable[str | None]) -> list[str | None]:
    return [None if n is None else person_key(key, n) for n in national_ids]
