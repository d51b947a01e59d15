"""Preprocessing own data: qform/sform warnings, one pass of checks, a failed re-run keeps the good results."""

import json

import nibabel as nib
import numpy as np
import pytest
from own_data import msd_dataset

from segpipe.preprocessing.preprocess import preprocess_dataset


def test_fingerprint_and_log_flag_qform_sform_disagreement(tmp_path, capsys):
    root = msd_dataset(tmp_path / "d", n_train=4, n_test=0)
    path = root / "imagesTr" / "case_001_0000.nii.gz"
    image = nib.load(str(path))
    image.set_sform(np.diag([0.8, 0.8, 3.0, 1.0]), code=2)  # the qform keeps 1.5 mm
    nib.save(image, str(path))
    label = root / "labelsTr" / "case_001.nii.gz"
    nib.save(nib.Nifti1Image(np.asanyarray(nib.load(str(label)).dataobj), image.header.get_sform()), str(label))
    preprocess_dataset(root, tmp_path / "out")
    warnings = json.loads((tmp_path / "out" / "fingerprint.json").read_text())["nifti_transform_warnings"]
    assert [entry["file"] for entry in warnings] == [str(path)]
    assert "segpipe uses the sform" in warnings[0]["warning"]
    assert f"warning: {path}: qform and sform disagree" in capsys.readouterr().err


def _rewrite(path, transform):
    image = nib.load(str(path))
    nib.save(nib.Nifti1Image(transform(np.asanyarray(image.dataobj).copy()), image.affine), str(path))


def test_every_problem_of_a_dataset_is_listed_in_one_pass(tmp_path):
    from segpipe.errors import InputError

    root = msd_dataset(tmp_path / "d", n_train=5, n_test=0)
    (root / "labelsTr" / "case_001.nii.gz").unlink()                        # missing label
    truncated = root / "imagesTr" / "case_002_0000.nii.gz"
    truncated.write_bytes(truncated.read_bytes()[:200])                     # truncated image
    _rewrite(root / "labelsTr" / "case_003.nii.gz", lambda a: a * 7)         # non-binary label (0/7)

    def add_nan(array):
        array[0, 0, 0] = np.nan
        return array

    _rewrite(root / "imagesTr" / "case_004_0000.nii.gz", add_nan)           # NaN in an image
    with pytest.raises(InputError) as caught:
        preprocess_dataset(root, tmp_path / "out")
    message = str(caught.value)
    assert "labelsTr/case_001.nii.gz: label of training case case_001 is missing" in message
    assert "case_002_0000.nii.gz" in message and "cannot decode" in message
    assert "case_003.nii.gz: values {0, 7} are not binary" in message
    assert "case_004_0000.nii.gz: 1 NaN and 0 infinite values" in message
    assert "4 problems: 1 in the dataset's layout, 3 in the files of 3 of 5 cases" in message


def test_rgba_image_is_named_and_the_good_files_are_not_blamed(tmp_path):
    from own_data import png
    from PIL import Image

    from segpipe.datasets.synthetic.mortar import MortarSpec, generate_mortar_dataset
    from segpipe.errors import InputError

    spec = MortarSpec(image_size=32, n_train=3, n_train_small=1, n_val=1, n_test_id=1, n_test_ood=0)
    root = generate_mortar_dataset(spec, tmp_path / "dataset")
    first = root / "train" / "images" / "001.png"
    Image.open(first).convert("RGBA").save(first)
    (root / "test" / "accurate" / "005.png").unlink()
    png(root / "val" / "accurate" / "004.png", np.full((32, 32), 3))
    with pytest.raises(InputError) as caught:
        preprocess_dataset(root, tmp_path / "out")
    message = str(caught.value)
    assert "001.png: 4 channels (RGBA: save it without the alpha channel), the dataset has 3" in message
    assert "test/accurate/005.png: accurate label of case 005 is missing" in message
    assert "val/accurate/004.png: values {3} are not binary" in message
    assert "002.png: 3 channels" not in message and "3 problems: 1 in the dataset's layout, 2 in the files of 2 of" in message


def test_a_failing_rerun_keeps_the_previous_good_results(tmp_path):
    from segpipe.datasets.manifest import Manifest
    from segpipe.errors import InputError

    root = msd_dataset(tmp_path / "d", n_train=4, n_test=0)
    out = tmp_path / "out"
    preprocess_dataset(root, out)
    before = {path.name: path.read_bytes() for path in [out / "manifest.json", out / "fingerprint.json",
                                                         *sorted((out / "cases").iterdir())]}
    _rewrite(root / "imagesTr" / "case_000_0000.nii.gz", lambda a: a + 1000)  # a good change, then a bad one
    _rewrite(root / "labelsTr" / "case_002.nii.gz", lambda a: a * 9)
    with pytest.raises(InputError, match="not binary"):
        preprocess_dataset(root, out)
    after = {path.name: path.read_bytes() for path in [out / "manifest.json", out / "fingerprint.json",
                                                        *sorted((out / "cases").iterdir())]}
    assert after == before and not (out / ".staging").exists()
    assert len(Manifest.load(out / "manifest.json").cases) == 4
