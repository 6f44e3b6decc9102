"""Benchmark sizes and the cache of generated data they run on.

Generated data is cached under ``<root>/<key>/gen/`` where the key spells out every generator argument
(quarter, cities, scale, units, seed), so the same arguments never generate twice and different ones
never share a folder. A ``.bench-generated.json`` marker is written last: a folder without it (an
interrupted generation) is wiped and generated again.

Every pipeline run happens in ``<root>/<key>/run/``, wiped first, whose landing area and registry are
hard links to the cached files (a copy where links are impossible). Links share the inode, so mtimes, the
arrival times ingestion reads, are the generator's; the pipeline never writes into landing files, and the
incremental scenario adds a new file rather than editing one.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

MARKER = ".bench-generated.json"
MAX_CITIES = 16  # the generator's --cities range (python -m pipelines.synthetic)


@dataclass(frozen=True)
class Size:
    name: str
    cities: int = 1
    scale: float = 1.0
    units: int | None = None  # None: every unit of every city
    seed: int = 7

    def key(self, quarter: str) -> str:
        units = "all" if self.units is None else str(self.units)
        return f"{quarter}-c{self.cities}-scale{self.scale:g}-u{units}-seed{self.seed}"

    @property
    def n_units(self) -> int:
        return self.units if self.units is not None else 500 * self.cities

    def describe(self) -> str:
        where = "a city" if self.cities == 1 else f"a province of {self.cities} cities"
        return f"{where}, {self.n_units} units, scale {self.scale:g}, seed {self.seed}"


SIZES: dict[str, Size] = {
    "city": Size("city"),
    "province4": Size("province4", cities=4),
    "province16": Size("province16", cities=16),
    # The smoke size the test suite runs: a dozen units of one city, seconds to generate.
    "smoke": Size("smoke", units=12),
}
DEFAULT_SIZES = ("city", "province4", "province16")


def parse_sizes(text: str) -> list[Size]:
    """`city,province4` → the Size objects; also accepts `cities=N` style names like `province8`."""
    out: list[Size] = []
    for name in (s.strip() for s in text.split(",") if s.strip()):
        if name in SIZES:
            out.append(SIZES[name])
        elif name.startswith("province") and name[len("province") :].isdigit():
            cities = int(name[len("province") :])
            if not 1 <= cities <= MAX_CITIES:
                raise ValueError(f"size {name!r}: a province has 1 to {MAX_CITIES} cities, got {cities}")
            out.append(Size(name, cities=cities))
        else:
            raise ValueError(f"unknown size {name!r}: use {', '.join(SIZES)} or provinceN")
    if not out:
        raise ValueError("no size given")
    return out


def generated(
    size: Size, quarter: str, root: Path, progress: Callable[[str], None] = print
) -> tuple[Path, float | None]:
    """The cached generated data folder for `size` (generating it when absent); also the seconds spent
    generating now (None when the cache was used)."""
    import time

    target = root / size.key(quarter) / "gen"
    marker = target / MARKER
    if marker.exists():
        return target, None
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    from pipelines.synthetic.__main__ import main as synth

    args = ["--quarters", quarter, "--seed", str(size.seed), "--scale", f"{size.scale:g}"]
    args += ["--cities", str(size.cities), "--data-dir", str(target)]
    if size.units is not None:
        args += ["--units", str(size.units)]
    progress(f"generating {size.name} ({size.describe()}) into {target} …")
    started = time.perf_counter()
    if synth(args) != 0:
        raise RuntimeError(f"generation into {target} failed: python -m pipelines.synthetic {' '.join(args)}")
    seconds = time.perf_counter() - started
    marker.write_text(
        json.dumps({"size": asdict(size), "quarter": quarter, "args": args, "seconds": round(seconds, 1)}),
        encoding="utf-8",
    )
    return target, seconds


def _link_tree(source: Path, target: Path) -> None:
    def link(src: str, dst: str) -> None:
        try:
            os.link(src, dst)
        except OSError:
            shutil.copy2(src, dst)

    shutil.copytree(source, target, copy_function=link)


def fresh_run_dir(gen: Path, run: Path) -> Path:
    """An empty data directory for one pipeline run whose landing area and registry are the cached ones."""
    if run.exists():
        shutil.rmtree(run)
    run.mkdir(parents=True)
    for part in ("landing", "registry"):
        if (gen / part).exists():
            _link_tree(gen / part, run / part)
    return run


def landing_files(landing_quarter: Path) -> list[Path]:
    """Every delivered file of a landing quarter folder (dotfiles and Office lock files excluded)."""
    return sorted(
        p for p in landing_quarter.glob("*/*") if p.is_file() and not p.name.startswith((".", "~$"))
    )


def use_data_dir(root: Path) -> None:
    """Point the pipeline at `root` (as pipelines.bench.detection does): data, Dagster home, no overrides."""
    os.environ["ASSESSMENT_DATA_DIR"] = str(root)
    os.environ["DAGSTER_HOME"] = str(root / ".dagster")
    os.environ.pop("ASSESSMENT_DUCKDB", None)
    os.environ.pop("ASSESSMENT_REGISTRY_CSV", None)
    os.environ.pop("ASSESSMENT_WAREHOUSE", None)


if __name__ == "__main__":  # pragma: no cover - manual helper: pre-generate a size
    _size = parse_sizes(sys.argv[1])[0]
    print(generated(_size, sys.argv[2] if len(sys.argv) > 2 else "2025Q3", Path("data/bench")))
