"""``hanota situations``: the checklist of situations a DUT's PICS calls for, and a
``situations.toml`` template for the capture set that records them.

Why: a test house records each situation on its own kit; this says which ones it needs
(a situation that needs an option the DUT does not claim has only NOT APPLICABLE
scenarios) and what to do to record each.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from hanota.dut.description import load_dut
from hanota.dut.situations import SITUATIONS, wanted
from hanota.targets.capture_set import template


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dut", type=Path, default=None,
                        help="the DUT description (default: the emulated HAN's)")
    parser.add_argument("--write", type=Path, default=None, metavar="FILE",
                        help="write a situations.toml template for these situations")


def run(args: argparse.Namespace) -> int:
    dut = load_dut(args.dut)
    needed = wanted(dut)
    for number, situation in enumerate(needed, start=1):
        stimulus = " (a stimulus to inject)" if situation.stimulus else ""
        print(f"{number:2}. {situation.id}: {situation.phrase}{stimulus}")
        print(f"    record: {situation.setup}")
    left = [s for s in SITUATIONS if s not in needed]
    for situation in left:
        print(f"  - {situation.id}: not needed, the PICS claims none of "
              f"{', '.join(situation.needs)}")
    if args.write is not None:
        args.write.write_text(template(needed))
        print(f"template: {args.write}")
    return 0
