"""``make bench``: every measured figure of the project, printed as ratios in one run.

Each section is a module of this package with ``run() -> list[str]`` (printed lines);
sections are independent so one slow or missing tool does not hide the others.
"""

from __future__ import annotations

import importlib
import sys
import time

SECTIONS = ("bench.decode", "bench.emulator", "bench.conformance", "bench.xdist",
            "bench.judge_scale", "bench.live")


def main() -> int:
    failed = 0
    for name in SECTIONS:
        started = time.perf_counter()
        print(f"== {name}")
        try:
            lines = importlib.import_module(name).run()
        except Exception as error:  # a broken section must not hide the others' figures
            failed += 1
            print(f"   FAILED: {type(error).__name__}: {error}")
            continue
        for line in lines:
            print(f"   {line}")
        print(f"   ({time.perf_counter() - started:.1f} s)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
