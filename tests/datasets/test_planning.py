"""init-config's planning: patch size and network from the fingerprint, as nnU-Net plans them."""

import numpy as np
import pytest
from own_data import nifti, png_folder

from segpipe.datasets.layout import read_dataset
from segpipe.datasets.planning import PATCH_VOXELS, inspect_dataset, plan_config, plan_patch_and_network


@pytest.mark.parametrize(("shape", "spacing"), [((512, 512), (1, 1)), ((40, 300, 300), (3.0, 0.7, 0.7)),
                                                ((200, 200, 200), (1, 1, 1)), ((20, 24), (1, 1))])
def test_patch_fits_the_budget_and_the_network(shape, spacing):
    patch, levels = plan_patch_and_network(shape, spacing)
    assert len(patch) == len(shape) and 1 <= levels <= 4
    assert all(side % 2**levels == 0 for side in patch)
    assert np.prod(patch) <= PATCH_VOXELS[len(shape)] * 1.3
    assert all(side <= max(s, 2**levels) + 2**levels for side, s in zip(patch, shape))


def test_anisotropic_volumes_keep_their_thin_axis():
    patch, _ = plan_patch_and_network((40, 300, 300), (3.0, 0.7, 0.7))
    assert patch[1] == patch[2] < 300 and patch[0] * 3.0 <= patch[1] * 0.7 * 1.5  # shrunk along the longest mm axes


def test_spacings_that_differ_are_resampled_to_the_median(tmp_path):
    root = png_folder(tmp_path / "d", n_labelled=4)
    summary = inspect_dataset(read_dataset(root), root)
    assert plan_config(summary)["preprocess"]["target_spacing"] is None and not summary.multi_class
    for index, z in enumerate((1.0, 2.0, 2.0)):
        nifti(tmp_path / "v" / "images" / f"c{index}.nii.gz", np.zeros((10, 10, 6), np.float32), np.diag([1, 1, z, 1.0]))
        nifti(tmp_path / "v" / "labels" / f"c{index}.nii.gz", np.zeros((10, 10, 6), np.uint8), np.diag([1, 1, z, 1.0]))
    summary = inspect_dataset(read_dataset(tmp_path / "v"), tmp_path / "v")
    assert summary.median_spacing == [2.0, 1.0, 1.0] and plan_config(summary)["preprocess"]["target_spacing"] == [2.0, 1.0, 1.0]
