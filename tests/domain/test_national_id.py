"""The shared national-ID detector: any valid ID embedded in any text is found and masked."""

from __future__ import annotations

import random

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from pipelines.domain.national_id import MASK, check_character, find_ids, is_valid, make, mask_ids

FULL_WIDTH = str.maketrans({str(i): chr(0xFF10 + i) for i in range(10)} | {"X": "Ｘ"})
SEPARATORS = [" ", "-", "－", "—", "\u3000", "\xa0", "_", ".", " - ", "/", "  "]
# What an independent probe published before the detector took them (2026-12-07): commas, brackets,
# characters that show nothing, four spaces.
SEPARATORS += [",", "，", "、", "(", ")", "【", ":", "\u00ad", "\u200b", "\u200d", "\u202e", "    ", "), "]


def seventeen_digits() -> st.SearchStrategy[str]:
    return st.text(alphabet="0123456789", min_size=17, max_size=17)


@st.composite
def valid_ids(draw: st.DrawFn) -> str:
    first17 = draw(seventeen_digits())
    return first17 + check_character(first17)


@st.composite
def written(draw: st.DrawFn, national_id: str) -> str:
    """The ID as a clerk might type it: cut into groups, separators between, full-width, lower-case x."""
    cuts = sorted(draw(st.sets(st.integers(1, 17), max_size=4)))
    groups = [national_id[a:b] for a, b in zip([0, *cuts], [*cuts, 18], strict=True)]
    text = groups[0]
    for g in groups[1:]:
        text += draw(st.sampled_from(SEPARATORS)) + g
    if draw(st.booleans()):
        text = text.translate(FULL_WIDTH)
    if draw(st.booleans()):
        text = text.replace("X", "x")
    return text


# Surrounding text: CJK, ASCII letters and punctuation, but no digit glued to the ID (that would make a
# longer number, which is deliberately not an ID).
AROUND = st.text(alphabet=st.sampled_from([*"一级科员身份证备注任务目标abcXYZ:：,，()（）[] "]), max_size=12)


@settings(max_examples=400, deadline=None)
@given(data=st.data(), national_id=valid_ids(), before=AROUND, after=AROUND)
def test_any_valid_id_anywhere_is_found_and_masked(
    data: st.DataObject, national_id: str, before: str, after: str
) -> None:
    typed = data.draw(written(national_id))
    text = before + typed + after
    spans = find_ids(text)
    assert [s.value for s in spans] == [national_id]
    assert text[spans[0].start : spans[0].end] == typed
    masked, n = mask_ids(text)
    assert n == 1 and masked == before + MASK + after
    assert not find_ids(masked)


@settings(max_examples=400, deadline=None)
@given(first17=seventeen_digits(), wrong=st.sampled_from("0123456789X"), before=AROUND, after=AROUND)
def test_random_digits_with_a_wrong_check_character_are_left_alone(
    first17: str, wrong: str, before: str, after: str
) -> None:
    assume(wrong != check_character(first17))
    candidate = first17 + wrong
    # Exception by design: a real region and a real birth date make it a mistyped ID, masked anyway.
    assume(not (candidate[:2] in {"11", "37", "44"} or candidate[6:8] in ("19", "20")))
    text = before + candidate + after
    assert find_ids(text) == []
    assert mask_ids(text) == (text, 0)


def test_the_issue_examples() -> None:
    nid = make("371623", "19850304", 123)
    glued = f"一级科员身份证{nid}备注"
    assert mask_ids(glued) == (f"一级科员身份证{MASK}备注", 1)
    spaced = f"{nid[:6]} {nid[6:14]} {nid[14:]}"
    assert mask_ids(f"任务：{spaced}。") == (f"任务：{MASK}。", 1)
    # As written in the issue, with a wrong check character: a real region and date, so masked too.
    assert mask_ids("一级科员身份证37162319850304123X备注")[1] == 1
    two = f"{nid}和{make('110105', '19491231', 2)}"
    assert mask_ids(two) == (f"{MASK}和{MASK}", 2)


def test_longer_numbers_hex_digests_and_short_numbers_are_not_ids() -> None:
    nid = make("371623", "19850304", 123)
    assert find_ids("1" + nid) == []  # 19 digits glued: another number
    assert find_ids(nid + "7") == []
    assert find_ids("0" * 64) == []  # a submission id (sha256 hex) is no typed text
    assert find_ids("任务编号2025-001") == []
    assert find_ids("") == []


def test_false_positive_rates_as_documented() -> None:
    """One random 18-digit number in 11 passes the check and is masked (documented, chosen: masking a
    number costs little, publishing an ID is a leak); a wrong check character almost never is."""
    rng = random.Random(7)
    numbers = ["".join(rng.choice("0123456789") for _ in range(18)) for _ in range(20_000)]
    flagged = sum(bool(find_ids(n)) for n in numbers) / len(numbers)
    assert 0.08 < flagged < 0.10
    valid = sum(is_valid(n) for n in numbers)
    wrong = [n for n in numbers if not is_valid(n)]
    assert valid and sum(bool(find_ids(n)) for n in wrong) / len(wrong) < 0.002


def test_the_disguises_an_independent_probe_published_are_masked() -> None:
    for text in (
        "110101,19900307,1137",
        "110101\u00ad19900307\u00ad109X",
        "110101    19900307    117X",
        "110101(19900307)1233",
        "李博110101，19900307，1145",
        "胡安110101\u200d19900307\u200d1081",
        "𝟏𝟏𝟎𝟏𝟎𝟏𝟏𝟗𝟗𝟎𝟎𝟑𝟎𝟕𝟏𝟏𝟗𝟔",  # mathematical bold digits, as a receipt quoted them
        "١١٠١٠١١٩٩٠٠٣٠٧١١٩٦",  # Arabic-Indic digits
    ):
        masked, n = mask_ids(text)
        assert n == 1 and not any(c.isdigit() for c in masked), (text, masked)
    # five separator characters are no longer one ID's groups, and a phone number is no ID
    assert find_ids("110101     19900307     1137") == []
    assert find_ids("电话13712345678") == []
