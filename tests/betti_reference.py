"""The reference Betti matching (Betti-Matching-3D in the ``topolosses`` wheel) for the tests that compare with it.

``scripts/fetch_reference_betti_matching.sh`` (``make setup`` runs it) unpacks it into
``.cache/reference/``; :func:`load_reference` runs the script when it is missing and skips the
calling test, with the reason, when it cannot be obtained.
"""

from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = ROOT / ".cache" / "reference" / "topolosses" / "losses" / "betti_matching" / "src"
SCRIPT = ROOT / "scripts" / "fetch_reference_betti_matching.sh"


def load_reference() -> ModuleType:
    """The reference ``betti_matching`` module, fetched if needed (skips the test if impossible)."""
    if not REFERENCE.is_dir():
        fetch = subprocess.run(["bash", str(SCRIPT)], capture_output=True, text=True, timeout=900)
        if fetch.returncode != 0:
            pytest.skip(f"reference Betti matching unavailable: {SCRIPT.name} failed: {fetch.stderr[-500:]}")
    sys.path.insert(0, str(REFERENCE))
    try:
        return importlib.import_module("betti_matching")
    except ImportError as error:
        pytest.skip(f"reference Betti matching in {REFERENCE} cannot be imported here: {error}")
    finally:
        sys.path.remove(str(REFERENCE))


def coords(array: np.ndarray, ndim: int) -> np.ndarray:
    """Reference coordinate arrays (empty ones may come back with odd shapes) as (n, ndim)."""
    return np.asarray(array, dtype=np.int64).reshape(-1, ndim)


def reference_loss(a: np.ndarray, b: np.ndarray, result) -> float:
    """The Betti matching loss computed directly from the reference's coordinates."""
    def values(array, c):
        return array[tuple(coords(c, array.ndim).T)]

    total = 0.0
    for dim in range(a.ndim):
        total += 2 * np.sum((values(a, result.input1_matched_birth_coordinates[dim])
                             - values(b, result.input2_matched_birth_coordinates[dim])) ** 2)
        total += 2 * np.sum((values(a, result.input1_matched_death_coordinates[dim])
                             - values(b, result.input2_matched_death_coordinates[dim])) ** 2)
        total += np.sum((values(a, result.input1_unmatched_death_coordinates[dim])
                         - values(a, result.input1_unmatched_birth_coordinates[dim])) ** 2)
        total += np.sum((values(b, result.input2_unmatched_death_coordinates[dim])
                         - values(b, result.input2_unmatched_birth_coordinates[dim])) ** 2)
    return float(total)
