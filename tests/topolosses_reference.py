"""Reference losses of the ``topolosses`` wheel (0.2.0) for the tests that compare with them.

``scripts/fetch_reference_betti_matching.sh`` unpacks the wheel's package into ``.cache/reference/``
without installing it (installing would pull CUDA torch, and the package's ``__init__`` imports
OpenCV for losses the tests do not use). :func:`reference_module` imports one loss module with
its parent packages registered empty (their ``__init__`` files are not run; the compiled Betti
matching is the module that :func:`betti_reference.load_reference` loaded) and skips the calling
test, with the reason, when the wheel cannot be obtained or the module not imported.
"""

from __future__ import annotations

import importlib
import sys
import types
from types import ModuleType

import pytest
from betti_reference import REFERENCE, SCRIPT, load_reference

PACKAGE = REFERENCE.parents[2]  # .cache/reference/topolosses
_PARENTS = ("topolosses", "topolosses.losses", "topolosses.losses.betti_matching",
            "topolosses.losses.betti_matching.src")


def reference_module(module: str) -> ModuleType:
    """The ``topolosses`` module ``module`` (e.g. ``"topolosses.losses.hutopo.src.hutopo_loss"``)."""
    engine = load_reference()  # fetches the wheel, or skips; its extension can be loaded only once
    if not (PACKAGE / "losses" / "hutopo").is_dir():
        pytest.skip(f"the topolosses losses are not unpacked in {PACKAGE}: remove it and run {SCRIPT.name}")
    for name in _PARENTS:
        if name not in sys.modules:
            package = types.ModuleType(name)
            package.__path__ = [str(PACKAGE.parent.joinpath(*name.split(".")))]
            sys.modules[name] = package
    sys.modules.setdefault("topolosses.losses.betti_matching.src.betti_matching", engine)
    try:
        return importlib.import_module(module)
    except ImportError as error:
        pytest.skip(f"topolosses module {module} cannot be imported here: {error}")
