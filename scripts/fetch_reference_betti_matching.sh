#!/usr/bin/env bash
# Download the reference Betti matching implementation (Betti-Matching-3D, Stucki et al.; compiled
# inside the `topolosses` wheel) and unpack only its module into .cache/reference/, for the tests
# and benchmarks that compare segpipe.topology with it.
#
# The wheel is fetched with `pip download --no-deps`: installing topolosses with its dependencies
# would pull torchvision and CUDA torch. The module needs no torch; import it with
#   sys.path.insert(0, ".cache/reference/topolosses/losses/betti_matching/src"); import betti_matching
# Idempotent and safe to run concurrently; exits non-zero when the wheel cannot be obtained.
set -euo pipefail
cd "$(dirname "$0")/.."

VERSION="${TOPOLOSSES_VERSION:-0.2.0}"
PYTHON="${PYTHON:-.venv/bin/python}"
[ -x "$PYTHON" ] || PYTHON=python3
DEST=.cache/reference
MODULE="$DEST/topolosses/losses/betti_matching/src"

[ -d "$MODULE" ] && exit 0
mkdir -p "$DEST"
exec 9>"$DEST/.lock"
flock 9
[ -d "$MODULE" ] && exit 0

work="$(mktemp -d "$DEST/.download.XXXXXX")"
trap 'rm -rf "$work"' EXIT
"$PYTHON" -m pip download --quiet --no-deps --only-binary=:all: --dest "$work" "topolosses==$VERSION"
"$PYTHON" - "$work" <<'PY'
import sys, zipfile
from pathlib import Path

work = Path(sys.argv[1])
(wheel,) = work.glob("topolosses-*.whl")
prefix = "topolosses/losses/betti_matching/"
with zipfile.ZipFile(wheel) as archive:
    members = [name for name in archive.namelist() if name.startswith(prefix)]
    archive.extractall(work / "unpacked", members=members)
PY
rm -rf "$DEST/topolosses"
mv "$work/unpacked/topolosses" "$DEST/topolosses"
echo "reference Betti matching (topolosses $VERSION) unpacked in $MODULE"
