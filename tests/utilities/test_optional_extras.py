"""The library installs without its extras: Snakemake (`segpipe[workflow]`) and torch-geometric (`segpipe[decode]`)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import tomllib

from workflow_helpers import REPO

# Imports every stage of the library while snakemake and torch_geometric cannot be imported.
PROBE = textwrap.dedent("""
    import importlib.abc, sys

    class Absent(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in ("snakemake", "torch_geometric"):
                raise ImportError(f"{name} is not installed (simulated)")
            return None

    sys.meta_path.insert(0, Absent())
    import segpipe.cli, segpipe.preprocessing.preprocess, segpipe.training.segmentation, segpipe.inference.predict
    import segpipe.evaluation.evaluate, segpipe.reporting.build, segpipe.networks.model_file, segpipe.inference.decode
    from segpipe.errors import SegpipeError
    from segpipe.networks.hybridgnet import cheb_conv
    try:
        cheb_conv(4, 4, 2)
    except SegpipeError as error:
        print("clear error:", error)
    assert not any(name.split(".")[0] in ("snakemake", "torch_geometric") for name in sys.modules)
""")


def test_library_imports_without_the_workflow_and_decode_extras():
    result = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=300, cwd=REPO)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "clear error: HybridGNet needs torch-geometric" in result.stdout and "segpipe[decode]" in result.stdout


def test_snakemake_and_torch_geometric_are_extras_only():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    required = " ".join(project["dependencies"])
    assert "snakemake" not in required and "torch-geometric" not in required
    extras = project["optional-dependencies"]
    assert any(d.startswith("snakemake") for d in extras["workflow"]) and extras["decode"] == ["torch-geometric>=2.6"]
