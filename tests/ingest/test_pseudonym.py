"""Person keys: a stable keyed HMAC; the demo key is flagged."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from pipelines.ingest.pseudonym import DEMO_KEY, ENV_VAR, load_key, person_key

NID = "11010519491231002X"


def test_person_key_is_the_first_32_hex_of_hmac_sha256() -> None:
    key = load_key({ENV_VAR: "a-long-enough-secret"})
    expected = hmac.new(b"a-long-enough-secret", NID.encode(), hashlib.sha256).hexdigest()[:32]
    assert person_key(key, NID) == expected
    assert person_key(key, NID) == person_key(load_key({ENV_VAR: "a-long-enough-secret"}), NID)
    assert not key.is_demo


def test_a_different_key_gives_unlinkable_keys() -> None:
    one, two = load_key({ENV_VAR: "secret-number-one!"}), load_key({ENV_VAR: "secret-number-two!"})
    assert person_key(one, NID) != person_key(two, NID)
    assert one.fingerprint != two.fingerprint


def test_without_the_variable_the_demo_key_is_used_and_flagged() -> None:
    key = load_key({})
    assert key.is_demo and key.secret == DEMO_KEY.encode()


def test_a_short_key_is_refused() -> None:
    with pytest.raises(ValueError, match=ENV_VAR):
        load_key({ENV_VAR: "short"})
