"""Stable pseudonymous person keys: a keyed HMAC of the national ID.

person_key = first 32 hex characters of HMAC-SHA256(key, national_id). The same person gets the
same key in every quarter and unit (annual results follow people across transfers), yet without
the key nobody can recompute it from an ID list, unlike a plain hash of an 18-digit number with a
known structure. The key comes from ASSESSMENT_PSEUDONYM_KEY and must be strong (estimated_bits). The
public demo key is used only in demo mode (ASSESSMENT_DEMO=1, generated data), and then every output
says so (terminal, release.json, the report), because keys made with a published key protect nothing.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import os
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

ENV_VAR = "ASSESSMENT_PSEUDONYM_KEY"
DEMO_ENV = "ASSESSMENT_DEMO"  # "1": generated demo data; set by `pipelines.ops demo` and the tests
DEMO_KEY = "binzhou-assessment-DEMO-key-not-for-real-data"
KEY_HEX_CHARS = 32
MIN_KEY_CHARS = 32
MIN_KEY_BITS = 128
DEMO_WARNING = (
    f"!!! 演示模式：人员代码使用公开的演示密钥生成，不得用于真实数据 / DEMO MODE ({DEMO_ENV}=1): person keys "
    "are made with the PUBLIC DEMO KEY; anyone with the code can link them back to national IDs. !!!"
)
MISSING_KEY = (
    f"未设置假名化密钥 {ENV_VAR}，拒绝运行（仅演示模式 {DEMO_ENV}=1 可用演示密钥） / "
    f"{ENV_VAR} is not set: refused (the demo key is allowed only in demo mode, {DEMO_ENV}=1)"
)
DEMO_KEY_REFUSED = (
    f"{ENV_VAR} 是公开的演示密钥，真实运行拒绝使用 / "
    f"{ENV_VAR} is the public demo key: refused outside demo mode"
)
NOT_UTF8_KEY = (
    f"假名化密钥 {ENV_VAR} 不是有效的 UTF-8 文本（可能以 GBK 保存），请重新设置 / "
    f"{ENV_VAR} is not valid UTF-8 text (saved as GBK?): set it again"
)
WEAK_KEY = (
    f"假名化密钥 {ENV_VAR} 强度不足（至少{MIN_KEY_CHARS}个字符、估计熵至少{MIN_KEY_BITS}位、"
    "不能是重复片段） / "
    f"{ENV_VAR} is too weak: need >= {MIN_KEY_CHARS} characters, >= {MIN_KEY_BITS} bits estimated entropy, "
    'no repeated pattern (e.g. python -c "import secrets; print(secrets.token_urlsafe(32))")'
)


class KeyRefusedError(ValueError):
    """The configured key may not be used for this run; the message is one line, Chinese and English."""


@dataclass(frozen=True)
class PseudonymKey:
    secret: bytes
    is_demo: bool

    @property
    def fingerprint(self) -> str:
        """Identifies the key in metadata without revealing it."""
        return hmac.new(self.secret, b"fingerprint", hashlib.sha256).hexdigest()[:8]


def demo_mode(environ: Mapping[str, str] | None = None) -> bool:
    env = os.environ if environ is None else environ
    return env.get(DEMO_ENV, "").strip() == "1"


def estimated_bits(value: str) -> float:
    """A deliberately simple, conservative entropy estimate: length × the Shannon entropy of the key's own
    character frequencies (16 spaces or aaaa… give 0; 64 characters of ab… give 64), and 0 for a key that
    is one shorter block repeated (abcdabcd…), whose real entropy is that of the block."""
    if not value:
        return 0.0
    n = len(value)
    for period in range(1, n // 2 + 1):
        if n % period == 0 and value[:period] * (n // period) == value:
            return 0.0
    counts = Counter(value)
    per_char = -sum(c / n * math.log2(c / n) for c in counts.values())
    return n * per_char


def load_key(environ: Mapping[str, str] | None = None) -> PseudonymKey:
    """The key for this run. Outside demo mode: a missing key, the demo key or a weak key is refused
    (KeyRefusedError). In demo mode without a key, the demo key, flagged so that every output says so."""
    env = os.environ if environ is None else environ
    value = env.get(ENV_VAR, "")
    demo = demo_mode(env)
    if not value or value == DEMO_KEY:
        if not demo:
            raise KeyRefusedError(DEMO_KEY_REFUSED if value == DEMO_KEY else MISSING_KEY)
        return PseudonymKey(DEMO_KEY.encode("utf-8"), is_demo=True)
    try:
        # bytes that are not UTF-8 reach os.environ as lone surrogates, which encode() refuses
        secret = value.encode("utf-8")
    except UnicodeEncodeError:
        raise KeyRefusedError(NOT_UTF8_KEY) from None
    if len(value) < MIN_KEY_CHARS or estimated_bits(value) < MIN_KEY_BITS:
        raise KeyRefusedError(WEAK_KEY)
    return PseudonymKey(secret, is_demo=False)


def refusal_for_run(say: Callable[[str], None]) -> str | None:
    """For the operator CLI before a run: the one-line refusal, or None (announcing demo mode if so)."""
    try:
        key = load_key()
    except KeyRefusedError as refused:
        return str(refused)
    if key.is_demo:
        say(DEMO_WARNING)
    return None


def person_key(key: PseudonymKey, national_id: str) -> str:
    return hmac.new(key.secret, national_id.encode("utf-8"), hashlib.sha256).hexdigest()[:KEY_HEX_CHARS]


def person_keys(key: PseudonymKey, national_ids: Iterable[str | None]) -> list[str | None]:
    """person_key of each ID. The key's HMAC state is made once and copied for each ID, rather than
    made again from the key each time (a city's ~18,000 roster rows: ~30 % less)."""
    keyed = hmac.new(key.secret, digestmod=hashlib.sha256)
    out: list[str | None] = []
    for n in national_ids:
        if n is None:
            out.append(None)
            continue
        h = keyed.copy()
        h.update(n.encode("utf-8"))
        out.append(h.hexdigest()[:KEY_HEX_CHARS])
    return out
