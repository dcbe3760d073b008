"""``hanota matrix RUN_DIR ... [--out DIR]``: merge runs into the device x Comms Hub matrix.

Each RUN_DIR is the ``--out`` directory of one run (its ``verdicts.json`` and
``conformance.html``), made anywhere: one CI job per pair, the artefacts copied into
one place, then merged. See ``hanota.matrix``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from hanota.matrix import MatrixError, cell_lines, write_matrix


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("runs", nargs="+", type=Path, metavar="RUN_DIR",
                        help="the --out directory of a run (holding verdicts.json)")
    parser.add_argument("--out", type=Path, default=Path("out"),
                        help="where matrix.html and matrix.md go (default: out); links to "
                        "the runs' statements are relative to it")


def run(args: argparse.Namespace) -> int:
    try:
        html_path, md_path, matrix = write_matrix(args.runs, args.out)
    except MatrixError as error:
        print(f"hanota matrix: {error}", file=sys.stderr)
        return 2
    for line in cell_lines(matrix):
        print(line)
    print(f"{len(matrix.runs)} runs, {len(matrix.devices)} devices x {len(matrix.hubs)} "
          f"Comms Hubs -> {html_path}, {md_path}")
    return 0
