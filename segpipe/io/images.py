"""Read and write images and masks with their geometry.

Supported formats
-----------------
- NIfTI (``.nii``, ``.nii.gz``) through nibabel;
- MetaImage and NRRD (``.mha``, ``.mhd``, ``.nrrd``, ``.nhdr``) through SimpleITK;
- PNG (``.png``) through scikit-image and TIFF (``.tif``, ``.tiff``) through tifffile: 2D, grey or RGB
  (TIFF also with other channel counts stored as samples of one page: class probabilities).

Conventions
-----------
Arrays use SimpleITK's NumPy axis order: the last array axis is the fastest image index (x), so a 3D
volume is ``(z, y, x)`` and a 2D image is ``(row, column)``. Images are returned channel-first,
``(C, *spatial)``; masks are returned without a channel axis. :class:`Geometry` stores spacing,
origin and direction in ITK's physical (LPS) convention and index order ``(x, y, z)``, exactly as
SimpleITK reports them; NIfTI affines (RAS) are converted on read and write, so a NIfTI file read
here gives the same arrays and geometry as SimpleITK would.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from os import PathLike
from pathlib import Path

import numpy as np

from segpipe.errors import InputError
from segpipe.io.atomic import write_atomically

NIFTI_SUFFIXES = (".nii", ".nii.gz")
ITK_SUFFIXES = (".mha", ".mhd", ".nrrd", ".nhdr")
PNG_SUFFIXES = (".png",)
TIFF_SUFFIXES = (".tif", ".tiff")
SUPPORTED_SUFFIXES = NIFTI_SUFFIXES + ITK_SUFFIXES + PNG_SUFFIXES + TIFF_SUFFIXES

# NIfTI world coordinates are RAS, ITK's are LPS: flip the first two physical axes.
_RAS_FROM_LPS = np.diag([-1.0, -1.0, 1.0])


@dataclass(frozen=True)
class Geometry:
    """Physical placement of an image grid (ITK convention, index order ``(x, y, z)``).

    Attributes
    ----------
    spacing
        Distance between grid points along each index axis, in mm.
    origin
        Physical (LPS) position of the first grid point.
    direction
        Row-major ``ndim x ndim`` matrix whose column ``k`` is the direction of index axis ``k``.
    """

    spacing: tuple[float, ...]
    origin: tuple[float, ...]
    direction: tuple[float, ...]

    def __post_init__(self) -> None:
        ndim = len(self.spacing)
        if len(self.origin) != ndim or len(self.direction) != ndim * ndim:
            raise ValueError(
                f"inconsistent geometry: spacing has {ndim} values, origin {len(self.origin)}, "
                f"direction {len(self.direction)} (expected {ndim * ndim})"
            )
        if any(not (s > 0 and math.isfinite(s)) for s in self.spacing):
            raise ValueError(f"spacing must be positive and finite, got {self.spacing}")

    @classmethod
    def identity(cls, ndim: int) -> Geometry:
        """Unit spacing, zero origin and identity direction in ``ndim`` dimensions."""
        return cls((1.0,) * ndim, (0.0,) * ndim, tuple(np.eye(ndim).ravel().tolist()))

    @property
    def ndim(self) -> int:
        """Number of spatial dimensions."""
        return len(self.spacing)

    @property
    def array_spacing(self) -> tuple[float, ...]:
        """Spacing per NumPy array axis (the reverse of :attr:`spacing`)."""
        return tuple(reversed(self.spacing))

    @property
    def direction_matrix(self) -> np.ndarray:
        """The direction as an ``ndim x ndim`` array."""
        return np.asarray(self.direction, dtype=float).reshape(self.ndim, self.ndim)

    def index_to_physical(self) -> np.ndarray:
        """Homogeneous ``(ndim+1) x (ndim+1)`` matrix mapping ITK index ``(x, y, z)`` to LPS mm."""
        matrix = np.eye(self.ndim + 1)
        matrix[: self.ndim, : self.ndim] = self.direction_matrix @ np.diag(self.spacing)
        matrix[: self.ndim, self.ndim] = self.origin
        return matrix

    def matches(self, other: Geometry, *, tolerance: float = 1e-4) -> bool:
        """Whether ``other`` describes the same grid placement within ``tolerance``."""
        return (
            self.ndim == other.ndim
            and np.allclose(self.spacing, other.spacing, rtol=tolerance, atol=tolerance)
            and np.allclose(self.origin, other.origin, rtol=tolerance, atol=tolerance)
            and np.allclose(self.direction, other.direction, atol=tolerance)
        )

    def to_dict(self) -> dict[str, list[float]]:
        """JSON-friendly representation."""
        return {"spacing": list(self.spacing), "origin": list(self.origin), "direction": list(self.direction)}

    @classmethod
    def from_dict(cls, data: dict[str, list[float]]) -> Geometry:
        """Inverse of :meth:`to_dict`."""
        return cls(tuple(map(float, data["spacing"])), tuple(map(float, data["origin"])), tuple(map(float, data["direction"])))


@dataclass(frozen=True)
class ImageData:
    """An image array with its geometry and source.

    Attributes
    ----------
    array
        Channel-first array ``(C, *spatial)``.
    geometry
        Physical placement of the spatial grid.
    path
        File it was read from.
    """

    array: np.ndarray
    geometry: Geometry
    path: Path

    @property
    def spatial_shape(self) -> tuple[int, ...]:
        """Shape without the channel axis."""
        return tuple(self.array.shape[1:])


def suffix_of(path: str | PathLike[str]) -> str:
    """Return the format-determining suffix of ``path`` (``.nii.gz`` counts as one), lower case."""
    name = Path(path).name.lower()
    return ".nii.gz" if name.endswith(".nii.gz") else Path(name).suffix


def _check_supported(path: Path) -> str:
    suffix = suffix_of(path)
    if suffix not in SUPPORTED_SUFFIXES:
        raise InputError(
            f"unsupported file type {suffix or '(no suffix)'!r}",
            where=path,
            fix=f"convert it to one of: {', '.join(SUPPORTED_SUFFIXES)}",
        )
    return suffix


def read_image(path: str | PathLike[str]) -> ImageData:
    """Read an image as a channel-first float-or-integer array with its geometry.

    Parameters
    ----------
    path
        Image file in a supported format.

    Returns
    -------
    ImageData
        ``array`` has shape ``(C, *spatial)``; C is 1 for grey images, 3 (or 4) for colour.

    Raises
    ------
    InputError
        If the file is missing, of an unsupported type, or cannot be decoded.
    """
    path = Path(path)
    suffix = _check_supported(path)
    if not path.is_file():
        raise InputError("file not found", where=path, fix="check the path and that the file exists")
    try:
        if suffix in NIFTI_SUFFIXES:
            array, geometry, vector = _read_nifti(path)
        elif suffix in ITK_SUFFIXES:
            array, geometry, vector = _read_itk(path)
        else:
            array, geometry, vector = _read_2d(path, suffix)
    except InputError:
        raise
    except Exception as exc:  # the libraries raise many unrelated types for corrupt files
        raise InputError(
            f"cannot decode the file as {suffix} ({type(exc).__name__}: {exc})",
            where=path,
            fix="check that the file is complete and really in the format its name says",
        ) from exc
    array = np.moveaxis(array, -1, 0) if vector else array[np.newaxis]
    return ImageData(np.ascontiguousarray(array), geometry, path)


def read_mask(path: str | PathLike[str]) -> tuple[np.ndarray, Geometry]:
    """Read a single-channel label image.

    Returns
    -------
    tuple
        ``(array, geometry)`` with ``array`` of shape ``(*spatial)``.

    Raises
    ------
    InputError
        As :func:`read_image`, or if the file has more than one channel with different values.
    """
    image = read_image(path)
    array = image.array
    if array.shape[0] > 1:
        if array.shape[0] in (3, 4) and all(np.array_equal(array[0], array[c]) for c in range(1, 3)):
            array = array[:1]  # a grey mask saved as RGB(A)
        else:
            raise InputError(
                f"a label must have one channel, this file has {array.shape[0]} different channels",
                where=image.path,
                fix="save the label as a single-channel (grey) image",
            )
    return array[0], image.geometry


def _read_nifti(path: Path) -> tuple[np.ndarray, Geometry, bool]:
    import nibabel as nib

    image = nib.load(str(path))
    data = np.asanyarray(image.dataobj)
    spatial_ndim = min(3, data.ndim)
    vector = data.ndim > spatial_ndim
    if vector:  # (i, j, k, 1, c) or (i, j, k, c): trailing axes are components
        data = data.reshape(*data.shape[:spatial_ndim], -1)
    # nibabel's axis order is ITK's index order (x, y, z); SimpleITK's NumPy order is reversed.
    axes = tuple(reversed(range(spatial_ndim))) + ((spatial_ndim,) if vector else ())
    array = np.transpose(data, axes)
    geometry = _geometry_from_ras_affine(_best_affine(image.header), spatial_ndim)
    return array, geometry, vector


def _usable(matrix: np.ndarray | None) -> bool:
    return matrix is not None and bool(np.isfinite(matrix).all()) and abs(np.linalg.det(matrix[:3, :3])) > 1e-12


def _best_affine(header: object) -> np.ndarray:
    """The sform when it is set and invertible, else the qform when set, else the pixel sizes.

    nibabel's ``get_best_affine`` order, plus the check that the sform is a usable (finite,
    non-singular) matrix, so that a zeroed sform falls back to the qform.
    """
    sform, sform_code = header.get_sform(coded=True)
    if sform_code and _usable(sform):
        return np.asarray(sform, dtype=float)
    qform, qform_code = header.get_qform(coded=True)
    if qform_code and _usable(qform):
        return np.asarray(qform, dtype=float)
    return np.asarray(header.get_base_affine(), dtype=float)


def nifti_transform_disagreement(path: str | PathLike[str], *, tolerance: float = 1e-3) -> str | None:
    """Describe how a NIfTI file's qform and sform disagree, or None when they agree or one is unset.

    segpipe places the image with the sform (:func:`read_image`), as nibabel does; SimpleITK
    (ITK 5) takes its spacing from the qform, so the two libraries give other millimetres for such
    a file. Callers report the disagreement (the preprocessing log and fingerprint).

    Parameters
    ----------
    path
        A ``.nii`` or ``.nii.gz`` file; other formats return None.
    tolerance
        Largest absolute difference of matrix entries (mm) counted as agreement.
    """
    if suffix_of(path) not in NIFTI_SUFFIXES:
        return None
    import nibabel as nib

    try:
        header = nib.load(str(path)).header
    except Exception:  # noqa: BLE001 - an unreadable file is read_image's to report
        return None
    sform, sform_code = header.get_sform(coded=True)
    qform, qform_code = header.get_qform(coded=True)
    if not (sform_code and qform_code and _usable(sform) and _usable(qform)):
        return None
    if np.allclose(sform, qform, atol=tolerance, rtol=0):
        return None

    def voxel(matrix: np.ndarray) -> str:
        return "(" + ", ".join(f"{v:.4g}" for v in np.linalg.norm(matrix[:3, :3], axis=0)) + ")"

    return (f"qform and sform disagree (voxel size {voxel(qform)} mm vs {voxel(sform)} mm, origin "
            f"{tuple(round(float(v), 3) for v in qform[:3, 3])} vs {tuple(round(float(v), 3) for v in sform[:3, 3])}); "
            "segpipe uses the sform, as nibabel does (SimpleITK reads the qform's spacing)")


def _geometry_from_ras_affine(affine: np.ndarray, ndim: int) -> Geometry:
    linear = _RAS_FROM_LPS @ affine[:3, :3]  # LPS columns, one per index axis
    origin = _RAS_FROM_LPS @ affine[:3, 3]
    spacing = np.linalg.norm(linear, axis=0)
    spacing[spacing == 0] = 1.0
    direction = linear / spacing
    return Geometry(
        tuple(spacing[:ndim].tolist()),
        tuple(origin[:ndim].tolist()),
        tuple(direction[:ndim, :ndim].ravel().tolist()),
    )


def _ras_affine(geometry: Geometry) -> np.ndarray:
    ndim = geometry.ndim
    lps = np.eye(4)
    lps[:ndim, :ndim] = geometry.direction_matrix @ np.diag(geometry.spacing)
    lps[:ndim, 3] = geometry.origin
    affine = np.eye(4)
    affine[:3, :] = _RAS_FROM_LPS @ lps[:3, :]
    return affine


def _read_itk(path: Path) -> tuple[np.ndarray, Geometry, bool]:
    import SimpleITK as sitk

    image = sitk.ReadImage(str(path))
    array = sitk.GetArrayFromImage(image)
    vector = image.GetNumberOfComponentsPerPixel() > 1
    geometry = Geometry(tuple(image.GetSpacing()), tuple(image.GetOrigin()), tuple(image.GetDirection()))
    return array, geometry, vector


def _read_2d(path: Path, suffix: str) -> tuple[np.ndarray, Geometry, bool]:
    if suffix in PNG_SUFFIXES:
        import skimage.io

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            array = skimage.io.imread(str(path))
    else:
        import tifffile

        with tifffile.TiffFile(str(path)) as tiff:
            array, samples = tiff.asarray(), tiff.series[0].axes.endswith("S")
    if array.ndim == 2:
        return array, Geometry.identity(2), False
    if array.ndim == 3 and (array.shape[-1] in (3, 4) or (suffix in TIFF_SUFFIXES and samples)):
        return array, Geometry.identity(2), True
    raise InputError(
        f"expected a 2D grey or RGB image, got an array of shape {array.shape}",
        where=path,
        fix="store volumes as NIfTI, MHA or NRRD; store 2D images as (H, W) or (H, W, 3)",
    )


def write_image(
    path: str | PathLike[str],
    array: np.ndarray,
    geometry: Geometry | None = None,
) -> Path:
    """Write an image or mask with its geometry, atomically.

    Parameters
    ----------
    path
        Destination; the suffix selects the format.
    array
        ``(*spatial)`` for single-channel data or ``(C, *spatial)`` with ``C`` matching
        ``geometry.ndim + 1`` dimensions for multi-channel data.
    geometry
        Placement of the grid. If omitted: identity, 2D for PNG and TIFF, else ``array.ndim``-D.
        PNG and TIFF store no geometry.

    Returns
    -------
    Path
        The destination.

    Raises
    ------
    InputError
        If the format is unsupported or cannot hold the array (e.g. a volume as PNG).
    """
    path = Path(path)
    suffix = _check_supported(path)
    array = np.asarray(array)
    if geometry is None:
        geometry = Geometry.identity(2 if suffix in PNG_SUFFIXES + TIFF_SUFFIXES else array.ndim)
    ndim = geometry.ndim
    if array.ndim == ndim:
        channels_last, vector = array, False
    elif array.ndim == ndim + 1:
        channels_last, vector = np.moveaxis(array, 0, -1), True
    else:
        raise ValueError(f"array of shape {array.shape} does not fit a {ndim}-D geometry")
    if suffix in PNG_SUFFIXES + TIFF_SUFFIXES and ndim != 2:
        raise InputError(
            f"{suffix} holds 2D images only, this array is {ndim}-D",
            where=path,
            fix="write volumes as .nii.gz, .mha or .nrrd",
        )

    def writer(temporary: Path) -> None:
        if suffix in NIFTI_SUFFIXES:
            _write_nifti(temporary, channels_last, geometry, vector)
        elif suffix in ITK_SUFFIXES:
            _write_itk(temporary, channels_last, geometry, vector)
        elif suffix in PNG_SUFFIXES:
            _write_png(temporary, channels_last, path)
        else:
            _write_tiff(temporary, np.ascontiguousarray(channels_last), vector)

    return write_atomically(path, writer)


def _write_nifti(path: Path, array: np.ndarray, geometry: Geometry, vector: bool) -> None:
    import nibabel as nib

    spatial = geometry.ndim
    axes = tuple(reversed(range(spatial))) + ((spatial,) if vector else ())
    data = np.transpose(array, axes)
    if vector:  # NIfTI stores vector components on the fifth axis
        data = data.reshape(*data.shape[:spatial], *([1] * (3 - spatial)), 1, data.shape[-1])
    if data.dtype == np.bool_:
        data = data.astype(np.uint8)
    image = nib.Nifti1Image(np.ascontiguousarray(data), _ras_affine(geometry))
    image.header.set_xyzt_units("mm")
    image.set_qform(image.affine, code=1)
    image.set_sform(image.affine, code=1)
    nib.save(image, str(path))


def _write_itk(path: Path, array: np.ndarray, geometry: Geometry, vector: bool) -> None:
    import SimpleITK as sitk

    if array.dtype == np.bool_:
        array = array.astype(np.uint8)
    image = sitk.GetImageFromArray(np.ascontiguousarray(array), isVector=vector)
    image.SetSpacing(geometry.spacing)
    image.SetOrigin(geometry.origin)
    image.SetDirection(geometry.direction)
    sitk.WriteImage(image, str(path), useCompression=True)


def _write_tiff(path: Path, array: np.ndarray, vector: bool) -> None:
    """A 2D TIFF; channels other than RGB(A) (e.g. class probabilities) as samples of one page, read back as such."""
    import tifffile

    if vector and array.shape[-1] not in (3, 4):
        extra = ["unspecified"] * (array.shape[-1] - 1)
        tifffile.imwrite(str(path), array, photometric="minisblack", planarconfig="contig", extrasamples=extra)
    else:
        tifffile.imwrite(str(path), array)


def _write_png(path: Path, array: np.ndarray, destination: Path) -> None:
    import skimage.io

    if array.dtype == np.bool_:
        array = array.astype(np.uint8) * 255
    if array.dtype not in (np.uint8, np.uint16):
        raise InputError(
            f"PNG stores 8- or 16-bit integers, not {array.dtype}",
            where=destination,
            fix="write probability maps as .tif or .nii.gz, or convert to uint8 first",
        )
    skimage.io.imsave(str(path), array, check_contrast=False)
