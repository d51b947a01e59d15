"""Image input/output: round trips keep arrays and geometry; bad files give clear errors."""

from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk

from segpipe.errors import InputError
from segpipe.io.images import Geometry, read_image, read_mask, write_image

ROTATION = (0.0, -1.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 1.0)
GEOMETRY_3D = Geometry((0.7, 1.3, 2.5), (10.0, -20.0, 30.5), ROTATION)
GEOMETRY_2D = Geometry((0.5, 2.0), (3.0, -4.0), (0.0, 1.0, -1.0, 0.0))


@pytest.mark.parametrize("suffix", [".nii", ".nii.gz", ".mha", ".nrrd"])
@pytest.mark.parametrize("dtype", [np.float32, np.int16, np.uint8])
def test_volume_round_trip_keeps_array_and_geometry(tmp_path, suffix, dtype):
    rng = np.random.default_rng(0)
    array = (rng.random((4, 5, 6)) * 100).astype(dtype)
    path = write_image(tmp_path / f"vol{suffix}", array, GEOMETRY_3D)
    image = read_image(path)
    assert image.array.shape == (1, 4, 5, 6)
    np.testing.assert_array_equal(image.array[0], array)
    assert image.geometry.matches(GEOMETRY_3D)


@pytest.mark.parametrize("suffix", [".nii.gz", ".mha"])
def test_2d_geometry_round_trip(tmp_path, suffix):
    array = np.arange(12, dtype=np.float32).reshape(3, 4)
    image = read_image(write_image(tmp_path / f"img{suffix}", array, GEOMETRY_2D))
    np.testing.assert_array_equal(image.array[0], array)
    assert image.geometry.matches(GEOMETRY_2D)


@pytest.mark.parametrize("suffix", [".nii.gz", ".nrrd"])
def test_agrees_with_simpleitk_on_the_same_file(tmp_path, suffix):
    """Our NIfTI path (nibabel) must see the same arrays and geometry as SimpleITK."""
    array = np.random.default_rng(1).random((3, 4, 5)).astype(np.float32)
    reference = sitk.GetImageFromArray(array)
    reference.SetSpacing(GEOMETRY_3D.spacing)
    reference.SetOrigin(GEOMETRY_3D.origin)
    reference.SetDirection(GEOMETRY_3D.direction)
    path = tmp_path / f"ref{suffix}"
    sitk.WriteImage(reference, str(path))
    image = read_image(path)
    np.testing.assert_array_equal(image.array[0], array)
    assert image.geometry.matches(Geometry(reference.GetSpacing(), reference.GetOrigin(), reference.GetDirection()))
    written = sitk.ReadImage(str(write_image(tmp_path / f"ours{suffix}", image.array[0], image.geometry)))
    np.testing.assert_array_equal(sitk.GetArrayFromImage(written), array)
    np.testing.assert_allclose(written.GetOrigin(), reference.GetOrigin(), atol=1e-5)
    np.testing.assert_allclose(written.GetDirection(), reference.GetDirection(), atol=1e-6)


@pytest.mark.parametrize("suffix", [".png", ".tif"])
def test_rgb_and_grey_2d_round_trip(tmp_path, suffix):
    rng = np.random.default_rng(2)
    rgb = rng.integers(0, 256, size=(3, 7, 9), dtype=np.uint8)
    image = read_image(write_image(tmp_path / f"rgb{suffix}", rgb))
    np.testing.assert_array_equal(image.array, rgb)
    grey = rng.integers(0, 256, size=(7, 9), dtype=np.uint8)
    image = read_image(write_image(tmp_path / f"grey{suffix}", grey))
    assert image.array.shape == (1, 7, 9)
    np.testing.assert_array_equal(image.array[0], grey)


def test_vector_nifti_round_trip(tmp_path):
    rgb = np.random.default_rng(3).random((3, 4, 5, 6)).astype(np.float32)
    image = read_image(write_image(tmp_path / "vec.nii.gz", rgb, GEOMETRY_3D))
    np.testing.assert_array_equal(image.array, rgb)


def test_tiff_keeps_float_probabilities(tmp_path):
    probabilities = np.random.default_rng(4).random((5, 6)).astype(np.float32)
    np.testing.assert_array_equal(read_image(write_image(tmp_path / "p.tif", probabilities)).array[0], probabilities)


def test_mask_saved_as_rgb_reads_as_one_channel(tmp_path):
    mask = np.zeros((3, 8, 8), dtype=np.uint8)
    mask[:, 2:5, 2:5] = 255
    array, geometry = read_mask(write_image(tmp_path / "mask.png", mask))
    assert array.shape == (8, 8) and geometry.ndim == 2


def test_unsupported_suffix_names_file_and_formats(tmp_path):
    path = tmp_path / "scan.dcm"
    path.write_bytes(b"x")
    with pytest.raises(InputError, match=r"(?s)scan\.dcm: unsupported file type '\.dcm'.*\.nii\.gz"):
        read_image(path)


@pytest.mark.parametrize("name", ["broken.png", "broken.nii.gz", "broken.mha", "broken.tif"])
def test_corrupt_file_names_the_file(tmp_path, name):
    path = tmp_path / name
    path.write_bytes(b"\x89PNG not really an image")
    with pytest.raises(InputError) as info:
        read_image(path)
    assert str(path) in str(info.value) and "cannot decode" in str(info.value)


def test_missing_file(tmp_path):
    with pytest.raises(InputError, match="file not found"):
        read_image(tmp_path / "absent.nii.gz")


def test_png_rejects_volumes_and_floats(tmp_path):
    with pytest.raises(InputError, match="2D images only"):
        write_image(tmp_path / "v.png", np.zeros((2, 3, 4), np.uint8), GEOMETRY_3D)
    with pytest.raises(InputError, match="8- or 16-bit"):
        write_image(tmp_path / "f.png", np.zeros((3, 4), np.float32))


def test_failed_write_leaves_no_partial_file(tmp_path):
    with pytest.raises(InputError):
        write_image(tmp_path / "f.png", np.zeros((3, 4), np.float32))
    assert list(Path(tmp_path).iterdir()) == []


def _qform_sform_file(path, sform, sform_code=2):
    import nibabel as nib

    image = nib.Nifti1Image(np.zeros((4, 5, 6), np.float32), None)
    image.set_qform(np.diag([1.0, 1.0, 2.0, 1.0]), code=1)
    image.set_sform(sform, code=sform_code)
    nib.save(image, str(path))
    return path


def test_nifti_uses_the_sform_and_flags_a_disagreeing_qform(tmp_path):
    import nibabel as nib

    from segpipe.io.images import nifti_transform_disagreement

    sform = np.diag([0.5, 0.5, 3.0, 1.0])
    sform[:3, 3] = [10, 20, 30]
    path = _qform_sform_file(tmp_path / "both.nii.gz", sform)
    geometry = read_image(path).geometry
    best = nib.load(str(path)).header.get_best_affine()
    assert geometry.spacing == pytest.approx(tuple(np.linalg.norm(best[:3, :3], axis=0)))  # nibabel's choice
    assert geometry.spacing == pytest.approx((0.5, 0.5, 3.0)) and geometry.origin == pytest.approx((-10, -20, 30))
    warning = nifti_transform_disagreement(path)
    assert "qform and sform disagree" in warning and "(1, 1, 2) mm vs (0.5, 0.5, 3) mm" in warning
    agreeing = _qform_sform_file(tmp_path / "same.nii.gz", np.diag([1.0, 1.0, 2.0, 1.0]))
    assert nifti_transform_disagreement(agreeing) is None


def test_nifti_singular_sform_falls_back_to_the_qform(tmp_path):
    path = _qform_sform_file(tmp_path / "zero.nii.gz", np.zeros((4, 4)), sform_code=1)
    assert read_image(path).geometry.spacing == pytest.approx((1.0, 1.0, 2.0))
