"""The city's civil servants over time: who works where, in which section, in which role.

The population is simulated quarter by quarter from a fixed epoch (2021Q1, when the city started the
scheme), so a quarter's staff does not depend on which other quarters a run asks for: generating
2026Q3 alone gives the same people as generating it inside 2025Q1..2026Q4. People keep their national
ID for life; a transfer gives them a new unit-local person code in the new unit.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

import numpy as np
import polars as pl

from pipelines.domain import national_id
from pipelines.domain.quarters import Quarter
from pipelines.synthetic import names
from pipelines.synthetic.ratings import LENIENCY_SD

EPOCH = Quarter(2021, 1)

# Staff per unit (excluding the leadership team) by level, before --scale.
MEAN_STAFF = {"市直": 46.0, "县直": 26.0, "乡镇": 35.0}
STAFF_SIGMA = 0.35  # lognormal spread: a few large bureaux, many small offices

# Quarterly movement rates (documented in docs/generator.md).
LEAVE_RATE = 0.012  # retirement or resignation
TRANSFER_RATE = 0.008  # move to another unit of the same city
LONG_LEAVE_RATE = 0.006  # on long leave this quarter: listed, not assessed
ABILITY_PERSISTENCE = 0.92  # AR(1) coefficient of latent performance between quarters

ENFORCEMENT_HINTS = ("公安", "城管", "城市管理", "市场监管", "生态环境", "交通", "应急", "自然资源", "执法")
TECHNICAL_HINTS = ("卫健", "卫生", "教育", "大数据", "统计", "气象", "科技", "水利", "医保")
BIRTH_REGIONS = (
    "371602",
    "371603",
    "371621",
    "371622",
    "371623",
    "371625",
    "371681",
    "370102",
    "370303",
    "370502",
    "370705",
    "371402",
    "371502",
    "372301",
)


@dataclass
class Person:
    pid: int
    name: str
    gender: str
    birth: date
    national_id: str
    service_start: int  # year
    theta: float  # latent performance, standard normal, drifts each quarter
    seniority_noise: float
    leniency: float  # how generously this person rates others, in points
    workload: float = 0.0  # how much work this person takes on, standard normal, for life


@dataclass
class Member:
    """A person's place in a unit in one quarter."""

    pid: int
    person_code: str
    section: str
    post_category: str
    is_head: bool = False
    leader_rank: int = -1  # 0 = unit head, 1.. = deputy; -1 = staff
    joined: Quarter = EPOCH
    new_hire: bool = False  # on probation in the quarter it joined: listed, not assessed
    on_leave: bool = False

    @property
    def is_leader(self) -> bool:
        return self.leader_rank >= 0


@dataclass
class UnitStaff:
    unit_code: str
    level: str
    post_mix: tuple[float, float, float]
    sections: list[str]
    section_leader: dict[str, str]  # section -> person_code of the leader in charge
    members: list[Member] = field(default_factory=list)
    next_code: int = 1

    def new_code(self) -> str:
        code = f"P{self.next_code:03d}"
        self.next_code += 1
        return code


def _post_mix(unit_name: str, base_method: str) -> tuple[float, float, float]:
    """Shares of 综合管理 / 行政执法 / 专业技术 posts, by what the unit does."""
    if base_method == "category_peer" or any(h in unit_name for h in ENFORCEMENT_HINTS):
        return (0.3, 0.5, 0.2)
    if any(h in unit_name for h in TECHNICAL_HINTS):
        return (0.55, 0.1, 0.35)
    return (0.75, 0.1, 0.15)


def _cdf(p: np.ndarray) -> np.ndarray:
    """The cumulative weights `Generator.choice(n, p=p)` searches, computed as it computes them."""
    cdf = p.cumsum()
    cdf /= cdf[-1]
    return cdf


def _pick(rng: np.random.Generator, cdf: np.ndarray) -> int:
    """`int(rng.choice(len(cdf), p=p))` for `cdf = _cdf(p)`: the same uniform draw and the same search,
    without validating and summing `p` again on each of a city's ~25,000 calls (the population's
    simulation is most of a small generation's time, in the tests and the benchmark alike)."""
    return int(cdf.searchsorted(rng.random(), side="right"))


def _changed(member: Member, **changes: object) -> Member:
    """A new Member like `member` with `changes`, as `dataclasses.replace` makes it (every field is an
    init field, nothing runs after __init__), at a fraction of its cost."""
    twin = object.__new__(Member)
    twin.__dict__ = {**member.__dict__, **changes}
    return twin


def _settled(member: Member, on_leave: bool) -> Member:
    """`member` as it stands in the next quarter (off probation, on leave or not): the same object when
    nothing changes, else a new one, so the quarters' snapshots can share members (see _take_snapshot)."""
    if member.on_leave == on_leave and not member.new_hire:
        return member
    return _changed(member, on_leave=on_leave, new_hire=False)


class City:
    """Simulates one city's staff from EPOCH; `snapshot(q)` gives every unit's members in quarter q."""

    def __init__(self, registry: pl.DataFrame, seed: int, city_index: int = 0, scale: float = 1.0) -> None:
        self.rng = np.random.default_rng([seed, city_index, 1])
        # A separate stream for traits added later, so they do not reshuffle names, IDs and movements.
        self.trait_rng = np.random.default_rng([seed, city_index, 2])
        self.scale = scale
        self.people: dict[int, Person] = {}
        self.units: dict[str, UnitStaff] = {}
        self.unit_codes: list[str] = registry["unit_code"].to_list()
        self._used_ids: set[str] = set()
        self._next_pid = city_index * 10_000_000
        self._quarter = EPOCH
        self._snapshots: dict[Quarter, dict[str, list[Member]]] = {}
        self._thetas: dict[Quarter, dict[int, float]] = {}
        surnames, weights = zip(*names.SURNAMES, strict=True)
        self._surnames = surnames
        self._surname_cdf = _cdf(np.array(weights) / sum(weights))
        self._post_cdfs: dict[tuple[float, float, float], np.ndarray] = {}
        for row in registry.iter_rows(named=True):
            self._found_unit(row)
        self._take_snapshot()

    # -- people -----------------------------------------------------------------------------
    def _new_person(self, year: int, age_range: tuple[int, int]) -> Person:
        rng = self.rng
        gender = "男" if rng.random() < 0.58 else "女"
        age = int(rng.integers(age_range[0], age_range[1] + 1))
        birth = date(year - age, 1, 1) + timedelta(days=int(rng.integers(0, 365)))
        start_age = int(rng.integers(22, 29))
        service_start = min(year, birth.year + start_age)
        given_pool = names.GIVEN_MALE if gender == "男" else names.GIVEN_FEMALE
        pool = given_pool + names.GIVEN_SHARED
        n_given = 2 if rng.random() < 0.62 else 1
        given = "".join(pool[int(i)] for i in rng.integers(0, len(pool), n_given))
        surname = self._surnames[_pick(rng, self._surname_cdf)]
        while True:
            region = BIRTH_REGIONS[int(rng.integers(0, len(BIRTH_REGIONS)))]
            # The sequence's last digit is odd for men and even for women, as on real IDs.
            seq = int(rng.integers(0, 500)) * 2 + (1 if gender == "男" else 0)
            nid = national_id.make(region, birth.strftime("%Y%m%d"), seq)
            if nid not in self._used_ids:
                break
        self._used_ids.add(nid)
        person = Person(
            pid=self._next_pid,
            name=surname + given,
            gender=gender,
            birth=birth,
            national_id=nid,
            service_start=service_start,
            theta=float(rng.normal()),
            seniority_noise=float(rng.normal()),
            leniency=float(rng.normal(0, LENIENCY_SD)),
            workload=float(self.trait_rng.normal()),
        )
        self._next_pid += 1
        self.people[person.pid] = person
        return person

    def _post(self, unit: UnitStaff) -> str:
        cdf = self._post_cdfs.get(unit.post_mix)
        if cdf is None:
            cdf = self._post_cdfs[unit.post_mix] = _cdf(np.array(unit.post_mix))
        return ("综合管理", "行政执法", "专业技术")[_pick(self.rng, cdf)]

    # -- units ------------------------------------------------------------------------------
    def _found_unit(self, row: dict[str, str]) -> None:
        rng = self.rng
        level = row["level"]
        n_staff = max(
            5,
            round(self.scale * MEAN_STAFF[level] * float(rng.lognormal(-(STAFF_SIGMA**2) / 2, STAFF_SIGMA))),
        )
        n_sections = int(np.clip(round(n_staff / 7 + rng.normal(0, 0.7)), 2, 14))
        pool = list(names.SECTIONS_COMMON[:2]) + list(names.SECTIONS_BY_DOMAIN[level])
        if level != "乡镇":
            pool = list(names.SECTIONS_COMMON) + list(names.SECTIONS_BY_DOMAIN[level])
        picked = [
            pool[i] for i in sorted(rng.choice(len(pool), size=min(n_sections, len(pool)), replace=False))
        ]
        unit = UnitStaff(
            unit_code=row["unit_code"],
            level=level,
            post_mix=_post_mix(row["unit_name"], row["base_method"]),
            sections=[names.LEADERSHIP_SECTION, *picked],
            section_leader={},
        )
        year = EPOCH.year
        n_leaders = int(np.clip(2 + len(picked) // 3, 3, 6))
        for rank in range(n_leaders):
            person = self._new_person(year, (40, 55))
            unit.members.append(
                Member(person.pid, unit.new_code(), names.LEADERSHIP_SECTION, "综合管理", leader_rank=rank)
            )
        # Staff: every section gets at least two people, the rest by a Dirichlet split.
        shares = rng.dirichlet(np.full(len(picked), 3.0))
        sizes = np.maximum(2, np.round(shares * n_staff)).astype(int)
        for section, size in zip(picked, sizes, strict=True):
            for i in range(int(size)):
                person = self._new_person(year, (24, 58))
                unit.members.append(
                    Member(person.pid, unit.new_code(), section, self._post(unit), is_head=(i == 0))
                )
        self._assign_leaders(unit)
        self._make_strongest_heads(unit)
        self.units[unit.unit_code] = unit

    def _assign_leaders(self, unit: UnitStaff) -> None:
        """The head leads the leadership team; deputies share the sections round-robin."""
        leaders = sorted((m for m in unit.members if m.is_leader), key=lambda m: m.leader_rank)
        head, deputies = leaders[0], leaders[1:] or leaders[:1]
        unit.section_leader = {names.LEADERSHIP_SECTION: head.person_code}
        for i, section in enumerate(unit.sections[1:]):
            unit.section_leader[section] = deputies[i % len(deputies)].person_code

    def _make_strongest_heads(self, unit: UnitStaff) -> None:
        """Section heads tend to be senior and capable: swap the head flag to the best-placed member."""
        for section in unit.sections[1:]:
            staff = [m for m in unit.members if m.section == section]
            if not staff:
                continue
            best = max(
                staff,
                key=lambda m: self.people[m.pid].theta + 0.05 * (2021 - self.people[m.pid].service_start),
            )
            for m in staff:
                m.is_head = m is best

    # -- time -------------------------------------------------------------------------------
    def snapshot(self, quarter: Quarter) -> dict[str, list[Member]]:
        if quarter < EPOCH:
            raise ValueError(f"the scheme starts in {EPOCH}; no data before it ({quarter})")
        while self._quarter < quarter:
            self._advance()
        return self._snapshots[quarter]

    def _take_snapshot(self) -> None:
        # The snapshots share Member objects: once the founding is done, a member is never changed in
        # place (_advance puts a changed copy in its place), so a list of the members is the quarter's
        # state. Copying every member of every quarter was most of a small generation's time.
        self._snapshots[self._quarter] = {code: list(unit.members) for code, unit in self.units.items()}
        self._thetas[self._quarter] = {pid: p.theta for pid, p in self.people.items()}

    def thetas(self, quarter: Quarter) -> dict[int, float]:
        self.snapshot(quarter)
        return self._thetas[quarter]

    def _advance(self) -> None:
        rng = self.rng
        nxt = self._quarter.next()
        # One draw per person, in the people's order: the same numbers as a draw per person in a loop.
        shocks = rng.normal(size=len(self.people)).tolist()
        spread = float(np.sqrt(1 - ABILITY_PERSISTENCE**2))
        for p, shock in zip(self.people.values(), shocks, strict=True):
            p.theta = ABILITY_PERSISTENCE * p.theta + spread * shock
        codes = self.unit_codes
        movers: list[tuple[Member, str]] = []
        for code in codes:
            unit = self.units[code]
            keep: list[Member] = []
            for m in unit.members:
                # probation lasts one quarter; leaders are never on leave
                if m.is_leader:
                    keep.append(_settled(m, on_leave=False))
                    continue
                u = rng.random()
                if u < LEAVE_RATE:
                    continue
                if u < LEAVE_RATE + TRANSFER_RATE and len(codes) > 1:
                    movers.append((m, code))
                    continue
                keep.append(_settled(m, on_leave=rng.random() < LONG_LEAVE_RATE))
            unit.members = keep
        for m, old in movers:
            target = codes[int(rng.integers(0, len(codes)))]
            if target == old:
                target = codes[(codes.index(old) + 1) % len(codes)]
            unit = self.units[target]
            section = unit.sections[1 + int(rng.integers(0, len(unit.sections) - 1))]
            unit.members.append(Member(m.pid, unit.new_code(), section, self._post(unit), joined=nxt))
        # Hiring refills each unit towards its size; new hires are on probation their first quarter.
        for code in codes:
            unit = self.units[code]
            for section in unit.sections[1:]:
                staff = [m for m in unit.members if m.section == section]
                need = max(0, 2 - len(staff)) + int(rng.random() < (LEAVE_RATE + TRANSFER_RATE) * len(staff))
                for _ in range(need):
                    person = self._new_person(nxt.year, (22, 30))
                    unit.members.append(
                        Member(
                            person.pid, unit.new_code(), section, self._post(unit), joined=nxt, new_hire=True
                        )
                    )
                if staff and not any(m.is_head for m in unit.members if m.section == section):
                    best = max(
                        (m for m in unit.members if m.section == section),
                        key=lambda m: self.people[m.pid].theta,
                    )
                    at = next(k for k, m in enumerate(unit.members) if m is best)
                    unit.members[at] = _changed(best, is_head=True)
        self._quarter = nxt
        self._take_snapshot()
