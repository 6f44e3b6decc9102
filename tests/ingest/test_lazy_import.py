"""GX is imported with scipy.stats and altair loading on first use (pipelines/ingest/lazy_import.py).

Run in a fresh interpreter each: the test process has usually imported scipy already."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from pipelines.paths import PROJECT_ROOT


def _python(code: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_gx_loads_without_scipy_stats_and_still_validates() -> None:
    out = _python(
        """
        import sys
        import pandas as pd
        from pipelines.ingest.validate import _gx
        gx = _gx()
        print("special" if "scipy.special" in sys.modules else "no-special")
        # type() reads no attribute of the module, so it does not load it
        print(type(sys.modules["altair"]).__name__)
        context = gx.get_context(mode="ephemeral")
        batch = (
            context.data_sources.add_pandas("p").add_dataframe_asset("a")
            .add_batch_definition_whole_dataframe("w")
            .get_batch(batch_parameters={"dataframe": pd.DataFrame({"x": [1, 2, 30]})})
        )
        expectation = gx.expectations.ExpectColumnValuesToBeBetween(column="x", min_value=0, max_value=10)
        result = batch.validate(expectation)
        print(result.success, result.result["unexpected_count"])
        import scipy.stats
        print(scipy.stats.norm.cdf(0.0))
        """
    )
    assert out.splitlines() == ["no-special", "_LazyModule", "False 1", "0.5"]


def test_modules_imported_before_are_untouched() -> None:
    out = _python(
        """
        import sys
        import scipy.stats
        from pipelines.ingest.lazy_import import lazily
        with lazily(("scipy.stats",)):
            import scipy.stats as again
        print(again is scipy.stats, type(again).__name__, again.norm.cdf(0.0))
        """
    )
    assert out == "True module 0.5"
