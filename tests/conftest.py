"""Shared fixtures: tiny preprocessed datasets, small configurations (:mod:`helpers`), the reference Betti matching."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from betti_reference import load_reference
from helpers import build_dataset, tiny_config


@pytest.fixture(scope="session")
def dataset_2d(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Manifest of the tiny 2D RGB PNG dataset."""
    return build_dataset(tmp_path_factory.mktemp("tiny2d"), 2)


@pytest.fixture(scope="session")
def dataset_3d(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Manifest of the tiny 3D NIfTI dataset."""
    return build_dataset(tmp_path_factory.mktemp("tiny3d"), 3)


#: The real TopoMortar data set beside the project (read-only; ../shared/topomortar/README.md).
TOPOMORTAR = Path(__file__).resolve().parents[1].parent / "shared" / "topomortar"


@pytest.fixture(scope="session")
def topomortar() -> Path:
    """Root of the real TopoMortar data (``dataset/``, ``results/``); skips the test where it is absent."""
    if not (TOPOMORTAR / "dataset" / "splits.yaml").is_file():
        pytest.skip(f"the real TopoMortar data set is not at {TOPOMORTAR} (CI always has it)")
    return TOPOMORTAR


@pytest.fixture(scope="session")
def reference():
    """The reference Betti matching module (``betti_matching``); skips the test when unavailable."""
    return load_reference()


@pytest.fixture
def make_config():
    """Factory: a validated configuration (defaults filled) from ``helpers.TINY`` plus overrides."""
    return tiny_config


@pytest.fixture
def config_file(tmp_path: Path, make_config):
    """Factory: write such a configuration to a YAML file and return its path."""

    def factory(overrides: dict[str, Any] | None = None, name: str = "config.yaml") -> Path:
        path = tmp_path / name
        path.write_text(yaml.safe_dump(make_config(overrides), sort_keys=False))
        return path

    return factory


@pytest.fixture
def one_thread():
    """Run the test with one torch thread (bitwise reproducible CPU kernels), then restore."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
