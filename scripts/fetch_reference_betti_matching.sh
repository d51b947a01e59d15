#!/usr/bin/env bash
# Download the `topolosses` wheel (0.2.0) and unpack its package into .cache/reference/, for the
# tests and benchmarks that compare with it: the reference Betti matching (Betti-Matching-3D,
# Stucki et al., compiled inside the wheel) and the reference losses (HutopoLoss, WarpingLoss,
# CLDiceLoss; tests/topolosses_reference.py imports them).
#
# The wheel is fetched with `pip download --no-deps` and never installed: installing topolosses
# with its dependencies would pull torchvision and CUDA torch (and its package __init__ imports
# OpenCV). The Betti matching module needs no torch; import it with
#   sys.path.insert(0, ".cache/reference/topolosses/losses/betti_matching/src"); import betti_matching
# Idempotent and safe to run concurrently; exits non-zero when the wheel cannot be obtained.
set -euo pipefail
cd "$(dirname "$0")/.."

VERSION="${TOPOLOSSES_VERSION:-0.2.0}"
PYTHON="${PYTHON:-.venv/bin/python}"
[ -x "$PYTHON" ] || PYTHON=python3
DEST=.cache/reference
MODULE="$DEST/topolosses/losses/betti_matching/src"
LOSSES="$DEST/topolosses/losses/hutopo/src"

[ -d "$MODULE" ] && [ -d "$LOSSES" ] && exit 0
mkdir -p "$DEST"
exec 9>"$DEST/.lock"
flock 9
[ -d "$MODULE" ] && [ -d "$LOSSES" ] && exit 0

work="$(mktemp -d "$DEST/.download.XXXXXX")"
trap 'rm -rf "$work"' EXIT
"$PYTHON" -m pip download --quiet --no-deps --only-binary=:all: --dest "$work" "topolosses==$VERSION"
"$PYTHON" - "$work" <<'PY'
import sys, zipfile
from pathlib import Path

work = Path(sys.argv[1])
(wheel,) = work.glob("topolosses-*.whl")
prefix = "topolosses/"
with zipfile.ZipFile(wheel) as archive:
    members = [name for name in archive.namelist() if name.startswith(prefix)]
    archive.extractall(work / "unpacked", members=members)
PY
rm -rf "$DEST/topolosses"
mv "$work/unpacked/topolosses" "$DEST/topolosses"
echo "topolosses $VERSION (reference Betti matching and losses) unpacked in $DEST/topolosses"
