"""Import a library without paying, at import time, for the parts of its dependencies it never uses here.

great-expectations imports scipy.stats and altair at its own import (for statistical expectations and
chart rendering the project's suites do not use): ~1.7 of its ~4 s of import on the development
machine, paid on every first run of a quarter by the GX check (pipelines/ingest/gx_check.py). Inside
`lazily(...)` a module under one of the given names is created by `importlib.util.LazyLoader`: it is
put in `sys.modules` at once and runs its code on the first attribute read. If great-expectations ever
does use scipy.stats, the module loads then and behaves as usual; if not, it is never loaded.

Only modules not imported yet are affected, and only while the block runs: a later `import
scipy.stats` elsewhere gets the same (lazy) module object, which loads on first use.
"""

from __future__ import annotations

import contextlib
import importlib.abc
import importlib.machinery
import importlib.util
import sys
from collections.abc import Iterator, Sequence
from types import ModuleType

_PYTHON_LOADERS = (importlib.machinery.SourceFileLoader, importlib.machinery.SourcelessFileLoader)


class _LazyFinder(importlib.abc.MetaPathFinder):
    def __init__(self, names: Sequence[str]) -> None:
        self._names = tuple(names)

    def _wanted(self, fullname: str) -> bool:
        return any(fullname == n or fullname.startswith(n + ".") for n in self._names)

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if not self._wanted(fullname):
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is None:
                continue
            # Only source and bytecode modules: an extension module's init must run when it is created.
            if isinstance(spec.loader, _PYTHON_LOADERS):
                spec.loader = importlib.util.LazyLoader(spec.loader)
            return spec
        return None


@contextlib.contextmanager
def lazily(names: Sequence[str]) -> Iterator[None]:
    """Modules named `names` (and their submodules) imported inside the block load on first use."""
    finder = _LazyFinder(names)
    sys.meta_path.insert(0, finder)
    try:
        yield
    finally:
        sys.meta_path.remove(finder)
