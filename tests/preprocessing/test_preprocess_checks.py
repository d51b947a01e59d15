"""Preprocessing own data: qform/sform warnings, one pass of checks, a failed re-run keeps the good results."""

import json

import nibabel as nib
import numpy as np
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
