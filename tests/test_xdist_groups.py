"""The suite's `xdist_group` marks must hold: each keeps a module's (or a shared fixture's) tests on one
worker under `make test` (`--dist loadgroup`), so an expensive fixture is built once, not once per worker.

xdist groups by adding `@<group>` to each marked test's id in the worker; pytest 9.2 ignores the rewritten id
(pytest-xdist#1386), and the groups were then silently spread over both workers. pyproject.toml pins pytest
below 9.2 for that reason; this test fails if grouping stops working again.
"""

from __future__ import annotations

import pytest


@pytest.mark.xdist_group("xdist_self_check")
def test_a_marked_test_runs_in_its_group(request: pytest.FixtureRequest) -> None:
    if not getattr(request.config.option, "loadgroup", False):
        pytest.skip("only meaningful under pytest-xdist's --dist loadgroup (make test)")
    assert request.node.nodeid.endswith("@xdist_self_check"), (
        f"xdist did not put this test in its group (id {request.node.nodeid!r}): "
        "see pytest-xdist#1386 and the pytest pin in pyproject.toml"
    )
