"""A plain folder of images and labels.

::

    DIR/images/001.png    images: PNG/TIFF (2D, grey or RGB) or NIfTI/MHA/NRRD (3D), one file each
    DIR/labels/001.png    the label of each image, same name stem (``masks/`` works as well);
                          images without a label are unlabelled test cases (predicted, not scored)

The label type of these cases is ``label``; the splits are drawn as described in
:mod:`segpipe.datasets.splits`. Hidden files are skipped; every other problem (a file type segpipe
cannot read, a label without an image, two files with one stem, images of mixed dimension) is
listed in one error that names each file.
"""

from __future__ import annotations

from pathlib import Path

from segpipe.datasets.manifest import IN_DISTRIBUTION, Case, Manifest
from segpipe.datasets.nnunet import LABEL_TYPE
from segpipe.datasets.splits import assign_splits
from segpipe.errors import InputError
from segpipe.io.images import PNG_SUFFIXES, SUPPORTED_SUFFIXES, TIFF_SUFFIXES, suffix_of

IMAGES_DIR = "images"
#: Accepted names of the label folder.
LABEL_DIRS = ("labels", "masks")


def is_folder_dataset(root: Path) -> bool:
    """Whether ``root`` holds ``images/`` and one of :data:`LABEL_DIRS`."""
    return (root / IMAGES_DIR).is_dir() and any((root / name).is_dir() for name in LABEL_DIRS)


def _files_by_stem(directory: Path, problems: list[str]) -> dict[str, Path]:
    files: dict[str, Path] = {}
    for path in sorted(directory.iterdir()):
        if path.name.startswith(".") or path.is_dir():
            continue
        suffix = suffix_of(path)
        if suffix not in SUPPORTED_SUFFIXES:
            problems.append(f"{path}: unsupported file type {suffix or '(no suffix)'!r} "
                            f"(convert it to one of {', '.join(SUPPORTED_SUFFIXES)}, or move it out of {directory.name}/)")
            continue
        stem = path.name[: len(path.name) - len(suffix)]
        if stem in files:
            problems.append(f"{path}: a second file for case {stem} (also {files[stem].name})")
            continue
        files[stem] = path
    return files


def read_folder(root: Path, collector: list[str] | None = None) -> Manifest:
    """Read an ``images/`` + ``labels/`` (or ``masks/``) folder (see the module documentation).

    Parameters
    ----------
    root
        The dataset directory.
    collector
        If given, problems are appended here instead of raised (see
        :func:`segpipe.datasets.layout.read_dataset`).

    Raises
    ------
    InputError
        Listing every problem found.
    """
    problems: list[str] = []
    label_dirs = [root / name for name in LABEL_DIRS if (root / name).is_dir()]
    if len(label_dirs) > 1:
        problems.append(f"{root}: both labels/ and masks/ exist; keep one label folder")
    images = _files_by_stem(root / IMAGES_DIR, problems)
    labels = _files_by_stem(label_dirs[0], problems)
    problems.extend(f"{path}: label without an image (no {IMAGES_DIR}/{stem}.*)" for stem, path in labels.items()
                    if stem not in images)
    kinds = {stem: 2 if suffix_of(path) in PNG_SUFFIXES + TIFF_SUFFIXES else 3 for stem, path in images.items()}
    if len(set(kinds.values())) > 1:
        volumes = [stem for stem, kind in kinds.items() if kind == 3]
        problems.append(f"{root / IMAGES_DIR}: 2D images (PNG/TIFF) mixed with volumes ({', '.join(volumes[:5])}); "
                        "keep one kind per data set")
    if not images:
        problems.append(f"{root / IMAGES_DIR}: no images")
    if collector is not None and images:
        collector.extend(problems)
    elif problems:
        raise InputError.listing(f"invalid image folder, {len(problems)} problem(s)", problems, where=root,
                                 fix="correct the files listed; the layout is described in docs/own-data.md")
    labelled = [stem for stem in images if stem in labels]
    splits = assign_splits(labelled, [], root)
    cases = [
        Case(stem, splits.get(stem, "test"), IN_DISTRIBUTION, str(path),
             {LABEL_TYPE: str(labels[stem])} if stem in labels else {})
        for stem, path in images.items()
    ]
    dimensions = max(kinds.values())
    return Manifest(root.name, dimensions, 0, [LABEL_TYPE], cases, {}, "folder")
