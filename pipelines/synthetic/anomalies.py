"""Inject the dishonest-rating patterns of quality.md into otherwise honest ratings.

Each injection returns ground-truth labels. Injections follow the *behaviour* each finding type
describes (a rater who is lenient, a pair who copy each other, a unit that rotates the top grade),
not the detectors' thresholds, so the labels measure whether detection sees the behaviour.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import numpy as np

from pipelines.domain.rules import FINDING_CODES
from pipelines.synthetic.rates import AnomalyRates
from pipelines.synthetic.ratings import DIM_OFFSETS, DIM_WEIGHTS, RatingTable, vector_for

# Injections describe behaviour and deliberately avoid the detectors' formulas: a lenient or severe rater
# moves by a drawn amount with some row-to-row wobble (not one fixed shift that a threshold could be
# tuned to), and severe raters may target as few as 3 colleagues; a lenient rater's and a reciprocal
# pair's inflation is a share of the room left below 100, so near the ceiling it is smaller.
# A lenient rater (A3) gives nearly everyone close to full marks: each of its rows rises by a share of the
# room between the rater's own honest score and 100, the share drawn per rater with a per-row wobble. So
# its ratings sit at or near the top of each ratee's raters, and its own honest temperament is mostly
# overwritten. The former +9…16 points × min(1, room / 30) moved a rater by +3…+8 points at typical
# scores, inside the spread of honest raters' temperament (sd 2 points, LENIENCY_SD): no auditor could
# have told those raters from honest generous ones (docs/generator.md).
LENIENT_SHARE = (0.65, 0.95)  # of the room up to 100, drawn per rater
LENIENT_SHARE_WOBBLE_SD = 0.08  # per row, on the share
# A rater whose ratees' other raters already give them within this many points of 100 (median over its
# rows) has no room to show leniency: giving 99 where colleagues give 97 is what an honest generous rater
# does in a ceiling-heavy city (quality.md, "The ceiling"), so such a rater is not made lenient (like
# reciprocal pairs above RECIPROCAL_MAX_CONSENSUS).
LENIENT_MIN_ROOM = 10.0  # points
SEVERE_SHIFT = (-16.0, -9.0)  # points, drawn per rater: the severe rater's temperament (replaces its own)
SHIFT_WOBBLE_SD = 1.5  # per row, on top of the rater's shift
RECIPROCAL_SHARE = (0.55, 0.85)  # of the headroom above the ratee's consensus
RECIPROCAL_MAX_CONSENSUS = 92.0  # a pair whose consensus is higher has no room to show inflation
NEAR_COPY_SHARE = 0.5  # collusion: share of pairs who copy with a point changed here and there
OUTLIER_GAP = (28.0, 36.0)

CODE_OF = FINDING_CODES  # finding type name -> code (A1..U4), as the rules files name them


@dataclass(frozen=True)
class Label:
    type: str
    period: str  # a quarter key, or a year for U1/U4
    unit_code: str
    rater_tier: str | None = None
    rater_code: str | None = None
    rater_tier_2: str | None = None  # the second rater of a pair (A6, A7)
    rater_code_2: str | None = None
    ratee_code: str | None = None

    def as_row(self) -> dict[str, str | None]:
        return {"code": CODE_OF[self.type], **self.__dict__}


def _raters(table: RatingTable) -> dict[tuple[str, str], list[int]]:
    rows: dict[tuple[str, str], list[int]] = defaultdict(list)
    for i, key in enumerate(zip(table.tier, table.rater, strict=True)):
        rows[key].append(i)
    return rows


def inject_rater_anomalies(
    table: RatingTable,
    participants: list[str],
    section_of: dict[str, str],
    rates: AnomalyRates,
    rng: np.random.Generator,
    period: str,
    unit_code: str,
    shifts: dict[tuple[str, str], float],
    leniency: dict[tuple[str, str], float] | None = None,
) -> list[Label]:
    """A1–A8 for one unit-quarter. `shifts` receives each lenient/severe rater's injected shift;
    `leniency` is each rater's honest temperament (points), which a severe rater's shift replaces."""
    labels: list[Label] = []
    touched: set[tuple[str, str]] = set()
    rows = _raters(table)

    def ratees(key: tuple[str, str]) -> int:
        return len({table.ratee[i] for i in rows[key]})

    # Rater-level behaviours, each rater at most one of them.
    for key in sorted(rows):
        n = ratees(key)
        idx = np.array(rows[key])
        u = rng.random()
        cut = 0.0
        for kind, rate, min_ratees in (
            ("straight_lining", rates.straight_lining, 3),
            ("lenient_rater", rates.lenient_rater, 5),
            ("severe_rater", rates.severe_rater, 3),
            ("no_discrimination", rates.no_discrimination, 5),
        ):
            lo, cut = cut, cut + rate
            if not (lo <= u < cut) or n < min_ratees:
                continue
            comp = table.composites()[idx]
            if kind == "straight_lining":
                # One number for all five dimensions, still tracking the ratee.
                flat = np.clip(np.round(comp), 0, 100)
                table.scores[idx] = flat[:, None]
            elif kind == "lenient_rater":
                ratee_level = float(np.median([table.consensus(int(i))[0] for i in idx]))
                if not 100.0 - ratee_level >= LENIENT_MIN_ROOM:  # (nan: no other raters)
                    continue  # no room to show it (see LENIENT_MIN_ROOM); the rater stays honest
                share = float(rng.uniform(*LENIENT_SHARE))
                row_share = np.clip(share + rng.normal(0, LENIENT_SHARE_WOBBLE_SD, len(idx)), 0.0, 1.0)
                # The row's composite rises by its share of the room; every dimension gets the same points
                # (capped at 100), so the row keeps its own profile across dimensions: the rater is lenient,
                # not straight-lining (pulling each dimension toward 100 separately made 99-99-99-99-99
                # vectors, an A2 pattern on top of this one).
                moved = table.scores[idx] + (row_share * (100 - comp))[:, None]
                table.scores[idx] = np.clip(np.round(moved), 0, 100)
                # the points it added on average, for raters.csv (a share is not a shift)
                shifts[key] = float(np.mean((table.scores[idx] @ DIM_WEIGHTS) - comp))
            elif kind == "severe_rater":
                shift = float(rng.uniform(*SEVERE_SHIFT))
                wobble = rng.normal(0, SHIFT_WOBBLE_SD, (len(idx), 1))
                # The shift replaces the rater's honest temperament instead of adding to it: a rater
                # 3 points generous by nature who adds −9 ends 6 under its colleagues, inside the spread
                # of honest raters (sd 2) — not a rater anyone would call severe.
                honest = (leniency or {}).get(key, 0.0)
                moved = table.scores[idx] - honest + shift + wobble
                table.scores[idx] = np.clip(np.round(moved), 0, 100)
                shifts[key] = shift
            else:
                # Everyone gets about the same: a fixed vector with its dimensions shuffled per row,
                # so rows are not identical across dimensions (that would be straight-lining).
                base = vector_for(float(comp.mean()), rng, spread=0.8)
                while np.all(base == base[0]):  # five equal numbers would be straight-lining (A2)
                    base = vector_for(float(comp.mean()), rng, spread=0.8)
                for i in idx:
                    table.scores[i] = rng.permutation(base)
            touched.add(key)
            labels.append(Label(kind, period, unit_code, key[0], key[1]))
            break

    labels += _inject_collusion(table, rows, touched, rates, rng, period, unit_code)
    labels += _inject_reciprocal(
        table, participants, section_of, rows, touched, rates, rng, period, unit_code
    )
    labels += _inject_outliers(table, touched, rates, rng, period, unit_code)
    labels += _inject_self_ratings(table, participants, touched, rates, rng, period, unit_code)
    return labels


def _inject_collusion(table, rows, touched, rates, rng, period, unit_code) -> list[Label]:
    if rng.random() >= rates.collusion:
        return []
    candidates = []
    keys = sorted(k for k in rows if k not in touched)
    ratee_sets = {k: {table.ratee[i]: i for i in rows[k]} for k in keys}
    for a_pos, a in enumerate(keys):
        for b in keys[a_pos + 1 :]:
            shared = sorted(set(ratee_sets[a]) & set(ratee_sets[b]))
            if len(shared) >= 5:
                candidates.append((a, b, shared))
    if not candidates:
        return []
    a, b, shared = candidates[int(rng.integers(0, len(candidates)))]
    # The second rater copies the first's five numbers for nearly every shared ratee.
    copied = [p for p in shared if rng.random() < 0.92] or shared
    if len(copied) < 0.8 * len(shared):
        copied = shared
    # Some pairs copy the numbers outright, others copy and then change a point here and there so that
    # the vectors are near-identical, not identical.
    near = rng.random() < NEAR_COPY_SHARE
    for p in copied:
        vector = table.scores[ratee_sets[a][p]].copy()
        if near:
            vector = np.clip(vector + rng.choice([-1.0, 0.0, 0.0, 0.0, 1.0], 5), 0, 100)
        table.scores[ratee_sets[b][p]] = vector
    touched.update({a, b})
    return [Label("collusion", period, unit_code, a[0], a[1], b[0], b[1])]


def _inject_reciprocal(
    table, participants, section_of, rows, touched, rates, rng, period, unit_code
) -> list[Label]:
    if rng.random() >= rates.reciprocal_inflation:
        return []
    peer = "科室工作人员"
    pairs = []
    for a in participants:
        for b in participants:
            if (
                a < b
                and section_of[a] == section_of[b]
                and (peer, a) not in touched
                and (peer, b) not in touched
            ):
                ab = [i for i in rows.get((peer, a), []) if table.ratee[i] == b]
                ba = [i for i in rows.get((peer, b), []) if table.ratee[i] == a]
                if ab and ba:
                    cons_b, n_b = table.consensus(ab[0])
                    cons_a, n_a = table.consensus(ba[0])
                    # Room above the consensus is needed for the inflation to show under the 100 cap.
                    if n_a >= 3 and n_b >= 3 and max(cons_a, cons_b) <= RECIPROCAL_MAX_CONSENSUS:
                        pairs.append((a, b, ab[0], ba[0], cons_a, cons_b))
    if not pairs:
        return []
    a, b, ab, ba, cons_a, cons_b = pairs[int(rng.integers(0, len(pairs)))]
    # Each rates the other toward the ceiling: a drawn share of the room above the consensus.
    up_b = cons_b + float(rng.uniform(*RECIPROCAL_SHARE)) * (100 - cons_b)
    up_a = cons_a + float(rng.uniform(*RECIPROCAL_SHARE)) * (100 - cons_a)
    table.scores[ab] = vector_for(up_b, rng, spread=0.6)
    table.scores[ba] = vector_for(up_a, rng, spread=0.6)
    touched.update({(peer, a), (peer, b)})
    return [Label("reciprocal_inflation", period, unit_code, peer, a, peer, b)]


def _inject_outliers(table, touched, rates, rng, period, unit_code) -> list[Label]:
    labels = []
    hits = np.flatnonzero(rng.random(len(table)) < rates.outlier_rating)
    used_ratees: set[str] = set()
    for i in hits:
        key = (table.tier[i], table.rater[i])
        if key in touched or table.ratee[i] in used_ratees:
            continue
        consensus, n_other = table.consensus(int(i))
        if n_other < 4:
            continue
        target = consensus - float(rng.uniform(*OUTLIER_GAP))
        table.scores[i] = np.clip(np.round(target + DIM_OFFSETS + rng.normal(0, 1.0, 5)), 0, 100)
        used_ratees.add(table.ratee[i])
        labels.append(Label("outlier_rating", period, unit_code, key[0], key[1], ratee_code=table.ratee[i]))
    return labels


def _inject_self_ratings(table, participants, touched, rates, rng, period, unit_code) -> list[Label]:
    labels = []
    for p in participants:
        # A rater already carrying another pattern is left alone, so each label shows one behaviour.
        if rng.random() < rates.self_rating and ("科室工作人员", p) not in touched:
            table.append(p, "科室工作人员", p, vector_for(97.0, rng, spread=1.0))
            labels.append(Label("self_rating", period, unit_code, "科室工作人员", p, ratee_code=p))
    return labels
