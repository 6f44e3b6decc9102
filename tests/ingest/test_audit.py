"""The national-ID audit of the raw tables counts cells, though it examines each distinct text once."""

from __future__ import annotations

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from pipelines.domain import national_id
from pipelines.domain.national_id import find_ids
from pipelines.ingest.audit import _holds_known, _polars_runs, _runs_of, clear_national_ids
from pipelines.ingest.free_text import ID_SPAN_HINT

VALID = "11010519491231002X"  # the standard's worked example: a valid check character


def test_every_cell_holding_an_id_is_counted_and_person_keys_are_not() -> None:
    assert national_id.is_valid(VALID)
    tables = {
        "tasks": pl.DataFrame(
            {
                "target": [f"联系{VALID}", f"联系{VALID}", "无", None, f"联系{VALID}"],
                "person_key": ["0123456789abcdef0123456789abcdef"] * 5,
            }
        ),
        "ratings": pl.DataFrame({"rater_code": ["P1", "371623199001014702x", "P1"]}),
    }
    assert clear_national_ids(tables, ["371623199001014702"]) == {"tasks.target": 3, "ratings.rater_code": 1}
    assert clear_national_ids({"tasks": tables["tasks"].slice(2, 2)}, []) == {}


def test_a_known_id_inside_a_hex_digest_is_still_counted() -> None:
    # The detector skips a whole lower-case hex digest; the known-ID lookup must not, wherever the ID
    # sits in it (only the runs of ID characters are searched, so the edges matter).
    known = "371623199001014702"
    texts = [
        "ab" + known + "cdef0123456789abcdef0123456789abcdef0123",  # inside
        known + "abcdef0123456789abcdef",  # at the start
        "abcdef0123456789abcdef" + known,  # at the end
        "1" + known + "2abcdef0123456789abcdef",  # inside a longer run of digits
        "ab37162319900101470cdef0123456789abcdef0123456789abcdef0123",  # one digit short
    ]
    tables = {"ratings": pl.DataFrame({"rater_key": texts})}
    assert clear_national_ids(tables, [known]) == {"ratings.rater_key": 4}
    assert clear_national_ids(tables, []) == {}


@settings(max_examples=300, deadline=None)
@given(
    known=st.sets(st.text(alphabet="0123456789Xx-]^\\a", min_size=1, max_size=6), max_size=5),
    text=st.text(alphabet="0123456789Xx-]^\\abc 联", max_size=40),
)
def test_the_known_id_lookup_agrees_with_a_plain_substring_search(known: set[str], text: str) -> None:
    """Known IDs come from rosters and the texts from cells, neither of them ours: whatever characters
    they hold (regex metacharacters included), looking only inside runs of the known IDs' characters
    finds exactly what a substring search for each known ID finds."""
    lengths = sorted({len(k) for k in known})
    assert _holds_known(text, known, lengths, _runs_of(known, lengths)) == any(k in text for k in known)


@settings(max_examples=300, deadline=None)
@given(
    known=st.sets(st.text(alphabet="0123456789Xx-]^\\a.*[{}$联\n", min_size=1, max_size=6), max_size=5),
    texts=st.lists(st.text(alphabet="0123456789Xx-]^\\abc .*[{}$联\n", max_size=40), max_size=8),
)
def test_polars_picks_the_texts_python_finds_runs_in(known: set[str], texts: list[str]) -> None:
    """The audit asks polars which texts hold a run before looking up known IDs in Python: it must pick
    exactly the texts in which _runs_of finds one (a text it wrongly left out would hide a clear ID)."""
    lengths = sorted({len(k) for k in known})
    runs, pattern = _runs_of(known, lengths), _polars_runs(known, lengths)
    assert (runs is None) == (pattern is None)
    if runs is None or pattern is None:
        return
    found = pl.Series(texts, dtype=pl.Utf8).str.contains(pattern).to_list()
    assert found == [runs.search(t) is not None for t in texts]


# The characters an ID can be typed with, and what the detector allows between its groups.
_ID_DIGITS = "0123456789０１２３４５６７８９"
_SEPARATORS = " \t\u3000\x1c\xa0-‐‑‒–—―－_.．·/／"


@st.composite
def _typed_ids(draw: st.DrawFn) -> str:
    """A valid or plausible ID as a clerk may type it: groups cut anywhere, joined by 1 to 3 separator
    characters, digits ASCII or full-width, the check character glued or apart, text around it."""
    first17 = draw(st.text(alphabet="0123456789", min_size=17, max_size=17))
    chars = first17 + draw(st.sampled_from([national_id.check_character(first17), "X", "x", "Ｘ", "7"]))
    cuts = sorted(draw(st.sets(st.integers(1, 17), max_size=5)))
    out, last = [], 0
    for cut in [*cuts, 18]:
        group = "".join(draw(st.sampled_from([c, c.translate(_FULLWIDTH)])) for c in chars[last:cut])
        out.append(group)
        last = cut
    joined = out[0]
    for group in out[1:]:
        joined += draw(st.text(alphabet=_SEPARATORS, min_size=1, max_size=3)) + group
    around = st.text(alphabet="联系人abX- 1", max_size=6)
    return draw(around) + joined + draw(around)


_FULLWIDTH = str.maketrans("0123456789", "０１２３４５６７８９")


@settings(max_examples=400, deadline=None)
@given(
    texts=st.lists(st.one_of(_typed_ids(), st.text(alphabet=_ID_DIGITS + _SEPARATORS + "Xx号a", max_size=40)))
)
def test_the_polars_hint_keeps_every_text_the_detector_finds_an_id_in(texts: list[str]) -> None:
    """The audit and the masking hand the detector only the texts polars matches with ID_SPAN_HINT: a
    text the detector finds an ID in and the hint drops would keep an ID in clear."""
    hinted = pl.Series(texts, dtype=pl.Utf8).str.contains(ID_SPAN_HINT).to_list()
    for text, hint in zip(texts, hinted, strict=True):
        if find_ids(text):
            assert hint, text
