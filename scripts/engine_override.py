"""Load a separately built topology engine (sanitized, profiled) in place of the installed one.

Used by ``scripts/sanitize_topology.sh`` and ``benchmarks/bench_topology.py --engine``; call
:func:`load_engine` before anything imports :mod:`segpipe.topology`.
"""

from __future__ import annotations

import importlib.util
import sys
from types import ModuleType


def load_engine(path: str) -> ModuleType:
    """Import the extension module at ``path`` as ``segpipe.topology._engine`` and return it."""
    spec = importlib.util.spec_from_file_location("segpipe.topology._engine", path)
    engine = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(engine)
    sys.modules["segpipe.topology._engine"] = engine
    import segpipe.topology  # noqa: F401  (binds the loaded engine)

    for name in (
        "segpipe.topology.persistence",
        "segpipe.topology.matching",
        "segpipe.topology.gather",
        "segpipe.topology.backend",
        "segpipe.topology._device",
    ):
        assert sys.modules[name]._engine is engine, f"{name} did not pick up {path}"
    return engine
