"""Mutation run (``make mutation``): does the suite catch every fault profile, and only it?

Why: each fault profile of the emulated HAN breaks ONE requirement on purpose. A suite
that misses a profile has a blind spot; a suite that fails other requirements too blames
the wrong thing. So, for every profile, the whole suite runs in emulator mode with
``--dut-profile`` and must FAIL at least one scenario of the profile's requirement and
nothing else (an ERROR counts as unexpected).

``--seeds N`` instead runs the conformant suite with N loss seeds (the lossy exchange
loses different frames each time) and checks that the verdicts are identical.

Runs go ``--jobs`` at a time (default 2), each a pytest subprocess (``run_suite``).
"""

from __future__ import annotations

import argparse
import hashlib
import re
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import TypeVar

from emulators import PROFILES
from verify.suite import SuiteRun, run_suite

# Profiles whose requirement is optional: the DUT variant that claims it (PICS key, value).
PICS_FOR_PROFILE: dict[str, tuple[str, str]] = {"silent-after-event": ("version_event", "true")}
LOSSY_CAPTURE = Path("captures") / "upgrade-lossy.pcapng"

T = TypeVar("T")
R = TypeVar("R")


@dataclass
class ProfileResult:
    """What the suite made of one fault profile."""

    profile: str
    side: str
    requirement: str
    detected: bool
    unexpected: list[str]
    seconds: float

    @property
    def ok(self) -> bool:
        return self.detected and not self.unexpected

    def line(self) -> str:
        unexpected = ", ".join(self.unexpected) or "-"
        return (f"{self.profile:24} {self.side:6} {self.requirement:9} "
                f"detected {'yes' if self.detected else 'NO ':3}  unexpected: {unexpected}"
                f"  ({self.seconds:.1f} s)")


def dut_variant(directory: Path, base: Path | None, key: str, value: str) -> Path:
    """A copy of the DUT description (default: the emulated HAN's) with ``key = value``."""
    text = base.read_text() if base is not None else \
        resources.files("emulators").joinpath("default_dut.toml").read_text()
    text, count = re.subn(rf"^{key} = .*$", f"{key} = {value}", text, flags=re.MULTILINE)
    if count != 1:
        raise ValueError(f"the DUT description has no single line '{key} = ...'")
    path = directory / f"dut-{key}.toml"
    path.write_text(text)
    return path


def judge(profile: str, run: SuiteRun, seconds: float) -> ProfileResult:
    """Detected: a FAIL on the profile's requirement; unexpected: any other FAIL/ERROR."""
    fault = PROFILES[profile]
    detected = any(fault.requirement in s["requirements"] for s in run.by_verdict("FAIL"))
    unexpected = sorted(
        f"{s['verdict']} {'/'.join(s['requirements'])} {s['scenario'].split('::')[-1]}"
        for s in run.scenarios if s["verdict"] in ("FAIL", "ERROR")
        and (s["verdict"] == "ERROR" or fault.requirement not in s["requirements"]))
    if not run.scenarios:
        unexpected.append(f"no verdicts (pytest exit {run.exit_code}): {run.output[-300:]}")
    return ProfileResult(profile, fault.side, fault.requirement, detected, unexpected, seconds)


def _parallel(function: Callable[[T], R], items: Iterable[T], jobs: int) -> list[R]:
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        return list(pool.map(function, items))


def run_profiles(profiles: list[str], work: Path, dut: Path | None, jobs: int,
                 ) -> list[ProfileResult]:
    """The suite once per profile, ``jobs`` at a time."""

    def one(profile: str) -> ProfileResult:
        profile_dut = dut
        if profile in PICS_FOR_PROFILE:
            directory = work / f"{profile}-dut"
            directory.mkdir(parents=True, exist_ok=True)
            profile_dut = dut_variant(directory, dut, *PICS_FOR_PROFILE[profile])
        started = time.perf_counter()
        run = run_suite("emulator", dut=profile_dut, profile=profile, out=work / profile)
        return judge(profile, run, time.perf_counter() - started)

    return _parallel(one, profiles, jobs)


def run_seeds(seeds: int, work: Path, dut: Path | None, jobs: int,
              ) -> tuple[list[dict[str, str]], set[str]]:
    """The conformant suite with seeds 0..N-1: verdicts of each run, and the distinct
    digests of the lossy exchange's capture (proof that the seeds changed the losses)."""

    def one(seed: int) -> tuple[dict[str, str], str]:
        out = work / f"seed-{seed}"
        run = run_suite("emulator", dut=dut, seed=seed, out=out)
        lossy = out / LOSSY_CAPTURE
        digest = hashlib.sha256(lossy.read_bytes()).hexdigest() if lossy.exists() else ""
        return run.verdicts, digest

    results = _parallel(one, range(seeds), jobs)
    return [verdicts for verdicts, _ in results], {digest for _, digest in results}


def seeds_report(verdict_sets: list[dict[str, str]], digests: set[str], seconds: float,
                 ) -> tuple[list[str], bool]:
    reference = verdict_sets[0]
    differing = [(seed, scenario, reference.get(scenario), verdicts.get(scenario))
                 for seed, verdicts in enumerate(verdict_sets)
                 for scenario in sorted(set(reference) | set(verdicts))
                 if verdicts.get(scenario) != reference.get(scenario)]
    lines = [f"seed {seed}: {scenario.split('::')[-1]}: {first} with seed 0, {other} here"
             for seed, scenario, first, other in differing]
    counts: dict[str, int] = {}
    for verdict in reference.values():
        counts[verdict] = counts.get(verdict, 0) + 1
    identical = not differing and bool(reference)
    lines.append(f"{len(verdict_sets)} seeds, {len(digests)} distinct upgrade-lossy captures: "
                 f"verdicts {'IDENTICAL' if identical else 'DIFFER'} "
                 f"({', '.join(f'{n} {v}' for v, n in sorted(counts.items()))}) "
                 f"in {seconds:.1f} s")
    return lines, identical


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m verify.mutation",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--dut", type=Path, default=None,
                        help="DUT description (default: the emulated HAN)")
    parser.add_argument("--profile", action="append", choices=sorted(PROFILES),
                        help="only these profiles (repeatable; default all)")
    parser.add_argument("--jobs", type=int, default=2, help="suite runs at a time")
    parser.add_argument("--seeds", type=int, default=0, metavar="N",
                        help="instead: the conformant suite with N loss seeds, verdicts "
                        "must be identical")
    parser.add_argument("--work", type=Path, default=None,
                        help="keep the runs' out directories here (default: a temp dir)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="hanota-mutation-") as temporary:
        work = args.work or Path(temporary)
        started = time.perf_counter()
        if args.seeds:
            verdict_sets, digests = run_seeds(args.seeds, work, args.dut, args.jobs)
            lines, identical = seeds_report(verdict_sets, digests,
                                            time.perf_counter() - started)
            print("\n".join(lines))
            return 0 if identical else 1
        results = run_profiles(args.profile or list(PROFILES), work, args.dut, args.jobs)
    for result in results:
        print(result.line())
    detected = sum(result.ok for result in results)
    print(f"detected {detected}/{len(results)} ({100 * detected / len(results):.0f} %) "
          f"exactly, in {time.perf_counter() - started:.1f} s wall, {args.jobs} at a time")
    return 0 if detected == len(results) else 1


if __name__ == "__main__":
    sys.exit(main())
