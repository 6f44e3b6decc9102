"""Person keys: a stable keyed HMAC; the demo key only in demo mode; a key needs real entropy."""

from __future__ import annotations

import hashlib
import hmac
import secrets

import pytest

from pipelines.ingest.pseudonym import (
    DEMO_ENV,
    DEMO_KEY,
    ENV_VAR,
    KeyRefusedError,
    PseudonymKey,
    estimated_bits,
    load_key,
    person_key,
    person_keys,
)
from pipelines.ops import main as ops_main

NID = "11010519491231002X"
STRONG = "kQ3v9-Zp_T1xWm8RbLc2Yh7Nd4Fs6JgA0uEoV5iKtHr"  # 43 characters, ~200 estimated bits
OTHER = "Gx7Lm2Qp9Vz4Kc1Rw8Ty3Nb6Hs5Jd0Fa-Ue_Io+Pl!"


def test_person_key_is_the_first_32_hex_of_hmac_sha256() -> None:
    key = load_key({ENV_VAR: STRONG})
    expected = hmac.new(STRONG.encode(), NID.encode(), hashlib.sha256).hexdigest()[:32]
    assert person_key(key, NID) == expected
    assert person_key(key, NID) == person_key(load_key({ENV_VAR: STRONG}), NID)
    assert not key.is_demo


def test_a_different_key_gives_unlinkable_keys() -> None:
    one, two = load_key({ENV_VAR: STRONG}), load_key({ENV_VAR: OTHER})
    assert person_key(one, NID) != person_key(two, NID)
    assert one.fingerprint != two.fingerprint


def test_in_demo_mode_without_a_key_the_demo_key_is_used_and_flagged() -> None:
    key = load_key({DEMO_ENV: "1"})
    assert key.is_demo and key.secret == DEMO_KEY.encode()
    assert load_key({DEMO_ENV: "1", ENV_VAR: DEMO_KEY}).is_demo


@pytest.mark.parametrize("env", [{}, {ENV_VAR: ""}, {DEMO_ENV: "0"}, {DEMO_ENV: "yes"}])
def test_outside_demo_mode_no_key_is_refused(env: dict[str, str]) -> None:
    with pytest.raises(KeyRefusedError, match=f"未设置假名化密钥.*{ENV_VAR} is not set"):
        load_key(env)


def test_outside_demo_mode_the_demo_key_is_refused() -> None:
    with pytest.raises(KeyRefusedError, match=r"公开的演示密钥.*public demo key"):
        load_key({ENV_VAR: DEMO_KEY})


@pytest.mark.parametrize(
    "weak",
    [
        " " * 16,
        " " * 64,
        "a" * 64,
        "abcd" * 16,  # a short pattern repeated: 64 characters, 4 distinct
        "Tr0ub4dor&3" * 4,  # a longer pattern repeated
        "ab" * 40,  # 80 characters, 1 bit each
        "short-but-random-9f8e7d",  # entropy fine per character, too short
        "9f86d081884c7d659a2feaa0c55ad01",  # random hex, but 31 characters
    ],
)
def test_a_weak_key_is_refused_even_when_long(weak: str) -> None:
    with pytest.raises(KeyRefusedError, match=r"强度不足.*too weak"):
        load_key({ENV_VAR: weak, DEMO_ENV: "1"})  # demo mode does not excuse a weak real key


def test_a_key_saved_as_gbk_is_refused_in_one_line() -> None:
    """A probe's key written in GBK reached os.environ as surrogates and crashed the run with a traceback."""
    gbk = ("滨州市委组织部平时考核" * 4).encode("gbk").decode("utf-8", "surrogateescape")
    with pytest.raises(KeyRefusedError, match=r"不是有效的 UTF-8.*not valid UTF-8"):
        load_key({ENV_VAR: gbk})


def test_the_entropy_estimate_is_length_times_shannon_and_zero_for_repeats() -> None:
    assert estimated_bits(" " * 16) == 0 and estimated_bits("xy" * 20) == 0
    assert estimated_bits("ab" * 20 + "c") == pytest.approx(41 * 1.1, abs=3)
    assert estimated_bits(secrets.token_urlsafe(32)) > 160
    assert load_key({ENV_VAR: secrets.token_urlsafe(32)}).is_demo is False


def test_the_cli_refuses_a_real_run_with_one_line_chinese_and_english(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: object
) -> None:
    monkeypatch.setenv("ASSESSMENT_DATA_DIR", str(tmp_path))
    monkeypatch.delenv(DEMO_ENV, raising=False)
    (tmp_path / "landing" / "2025Q3" / "371602-X-001").mkdir(parents=True)  # type: ignore[operator]
    for value in (None, DEMO_KEY, " " * 16):
        if value is None:
            monkeypatch.delenv(ENV_VAR, raising=False)
        else:
            monkeypatch.setenv(ENV_VAR, value)
        assert ops_main(["run", "--quarter", "2025Q3"]) == 3  # the environment refuses, as a lock does
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and ENV_VAR in err and ("拒绝" in err or "不足" in err)
    assert not (tmp_path / "raw").exists()  # type: ignore[operator]


def test_person_keys_are_each_ids_person_key_whatever_the_key_length() -> None:
    # person_keys copies one HMAC state per key; a key longer than SHA-256's block is hashed first.
    ids = ["37162319900101470X", None, "110105194912310029", ""]
    for secret in (b"k" * 32, b"k" * 64, b"k" * 65, b"\x00" + b"k" * 200):
        key = PseudonymKey(secret, is_demo=False)
        assert person_keys(key, ids) == [None if n is None else person_key(key, n) for n in ids]
