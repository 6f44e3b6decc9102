"""The national-ID audit of the raw tables counts cells, though it examines each distinct text once."""

from __future__ import annotations

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from pipelines.domain import national_id
from pipelines.ingest.audit import _holds_known, _polars_runs, _runs_of, clear_national_ids

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
