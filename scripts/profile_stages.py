"""Group a perf or callgrind report of the topology engine by engine stage.

    python scripts/profile_stages.py build/profile/perf.txt       # perf report --stdio -g none
    python scripts/profile_stages.py build/profile/callgrind.txt  # callgrind_annotate --auto=no

Exclusive costs are attributed by function name; inlined code counts for the function it was
inlined into, hence the coarse stage names. Only the engine's own code and libc memory routines
called from it are counted (perf samples of the interpreter and of the input generation are left
out).
"""

from __future__ import annotations

import re
import sys

STAGES = [
    ("filtration values (dense ranks)", r"dense_ranks"),
    ("sorting of cells, top cell values", r"sorted_cells|for_each_cell|top_cell_ranks"),
    ("dimension 0 union-find, inputs", r"vertex_pairs<\d, 1ul"),
    ("dimension 0 union-find, comparison + both image passes", r"vertex_pairs<\d, 3ul"),
    ("top dimension dual union-find, inputs + image passes", r"top_pairs<\d, 2ul"),
    ("top dimension dual union-find, one filtration", r"top_pairs<\d, 1ul"),
    ("dimension 1 reductions, inputs and comparison", r"middle_bars|ColumnReduction"),
    ("dimension 1 image reductions (3D), driver code", r"compute_cell_matching|compute_cell_barcode"),
    ("voxel coordinates of the bars", r"add_voxel_bars|value_vertex|matching_on_grid|barcode_on_grid"),
    ("allocation, zeroing, copies (libc)", r"memset|memmove|memcpy|malloc|free|_int_"),
]
CALLGRIND = re.compile(r"\s*([\d,]+) \(\s*[\d.]+%\)\s+(.*)")
PERF = re.compile(r"\s*([\d.]+)%\s+\S+\s+(\S+)\s+\[\.\]\s+(.*)")


def entries(path: str):
    """(cost, function) pairs of the engine from either report format."""
    for line in open(path):
        if "PROGRAM TOTALS" in line:
            continue
        if m := CALLGRIND.match(line):
            where = m.group(2)
            yield int(m.group(1).replace(",", "")), where.split(":", 1)[1] if ":" in where else where
        elif m := PERF.match(line):
            if "_engine" in m.group(2) or re.search(r"mem(set|move|cpy)|malloc|free", m.group(3)):
                yield float(m.group(1)), m.group(3)


def main() -> None:
    totals = dict.fromkeys([name for name, _ in STAGES] + ["other engine code"], 0.0)
    for cost, function in entries(sys.argv[1]):
        stage = next((name for name, pattern in STAGES if re.search(pattern, function)), "other engine code")
        totals[stage] += cost
    total = sum(totals.values()) or 1.0
    for name, cost in totals.items():
        print(f"  {100 * cost / total:5.1f}%  {name}")


if __name__ == "__main__":
    main()
