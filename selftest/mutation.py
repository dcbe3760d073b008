"""Mutation run (``make mutation``): does the suite catch every fault profile, and only it?

Why: each fault profile of the emulated HAN breaks ONE requirement on purpose. A suite
that misses a profile has a blind spot; a suite that fails other requirements too blames
the wrong thing. So, for every profile, the whole suite runs in emulator mode with
``--dut-profile`` and must FAIL at least one scenario of the profile's requirement and
nothing else (an ERROR counts as unexpected).

``--seeds N`` instead runs the conformant suite with N loss seeds (the lossy exchange
loses different frames each time) and checks that the verdicts are identical.

``--sniffer-miss P`` runs the profiles with a sniffer that misses that share of the frames
(each profile must still be caught on its own requirement). ``--campaign sniffer``,
``variants``, ``imperfect`` and ``profiles`` (every profile on every HAN variant) run the
campaigns of ``hanota.selftest.campaigns`` over the imperfect emulated HAN.

Runs go ``--jobs`` at a time (default 2), each a pytest subprocess (``run_suite``).
"""

from __future__ import annotations

import argparse
import hashlib
import re
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from hanota.emulators import PROFILES
from hanota.selftest import campaigns
from hanota.selftest.campaigns import dut_variant, parallel
from hanota.selftest.suite import SuiteRun, run_suite

# Profiles whose requirement is optional: the DUT variant that claims it (PICS key, value).
PICS_FOR_PROFILE: dict[str, tuple[str, str]] = {"silent-after-event": ("version_event", "true")}
LOSSY_CAPTURE = Path("captures") / "upgrade-lossy.pcapng"
__all__ = ["ProfileResult", "dut_variant", "judge", "main", "run_profiles", "run_seeds",
           "seeds_report"]


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
        names = campaigns.short_names()
        shown = [re.sub(r"test_[^\s\[]+(\[[^\]]*\])?",
                        lambda test: names.get(test.group(0), test.group(0)), item)
                 for item in self.unexpected]
        unexpected = ", ".join(shown) or "-"
        return (f"{self.profile:24} {self.side:6} {self.requirement:9} "
                f"detected {'yes' if self.detected else 'NO ':3}  unexpected: {unexpected}"
                f"  ({self.seconds:.1f} s)")


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


def run_profiles(profiles: list[str], work: Path, dut: Path | None, jobs: int,
                 sniffer_miss: float = 0.0, sniffer_seed: int = 0,
                 variant: str | None = None) -> list[ProfileResult]:
    """The suite once per profile, ``jobs`` at a time, with a sniffer missing
    ``sniffer_miss`` of the frames (its own random seed ``sniffer_seed``), on the HAN
    variant ``variant`` (default: the plain HAN)."""
    extra = ("--sniffer-miss", str(sniffer_miss), "--sniffer-seed",
             str(sniffer_seed)) if sniffer_miss else ()
    if variant is not None:
        extra += ("--han-variant", variant)
        dut = campaigns.variant_dut(work, dut, variant)

    def one(profile: str) -> ProfileResult:
        profile_dut = dut
        if profile in PICS_FOR_PROFILE:
            directory = work / f"{profile}-{variant or 'plain'}-dut"
            directory.mkdir(parents=True, exist_ok=True)
            profile_dut = dut_variant(directory, dut, *PICS_FOR_PROFILE[profile])
        started = time.perf_counter()
        out = work / f"{profile}-{variant or 'plain'}-{sniffer_seed}"
        run = run_suite("emulator", dut=profile_dut, profile=profile, out=out, extra=extra)
        return judge(profile, run, time.perf_counter() - started)

    return parallel(one, profiles, jobs)


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

    results = parallel(one, range(seeds), jobs)
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
    parser = argparse.ArgumentParser(prog="python -m hanota.selftest.mutation",
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
    parser.add_argument("--sniffer-miss", type=float, default=0.0, metavar="P",
                        help="profiles (and --seeds): a sniffer missing this share of frames")
    parser.add_argument("--sniffer-seeds", type=int, default=1, metavar="N",
                        help="profiles with --sniffer-miss: under N sniffers (seeds 0..N-1)")
    parser.add_argument("--campaign", choices=("sniffer", "variants", "imperfect", "profiles"),
                        help="instead: the sniffer campaign (conformant HAN, misses of 1, 5 "
                        "and 10 %%, --seeds per rate, default 20), the variant comparison, "
                        "every variant under imperfect sniffers (--seeds each, default 3), "
                        "or every fault profile on every variant")
    parser.add_argument("--rates", default=None, metavar="P,P,...",
                        help="sniffer campaign: the miss rates (default 0.01,0.05,0.10)")
    parser.add_argument("--variant", action="append", choices=sorted(campaigns.VARIANTS),
                        help="variant comparison: only these variants (repeatable)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="hanota-mutation-") as temporary:
        work = args.work or Path(temporary)
        started = time.perf_counter()
        if args.campaign is not None:
            return _campaign(args, work)
        if args.seeds:
            verdict_sets, digests = run_seeds(args.seeds, work, args.dut, args.jobs)
            lines, identical = seeds_report(verdict_sets, digests,
                                            time.perf_counter() - started)
            print("\n".join(lines))
            return 0 if identical else 1
        if args.sniffer_miss and args.sniffer_seeds > 1:
            return _profiles_over_seeds(args, work, started)
        results = run_profiles(args.profile or list(PROFILES), work, args.dut, args.jobs,
                               args.sniffer_miss)
    for result in results:
        print(result.line())
    detected = sum(result.ok for result in results)
    misses = f" with the sniffer missing {args.sniffer_miss:.0%}" if args.sniffer_miss else ""
    print(f"detected {detected}/{len(results)} ({100 * detected / len(results):.0f} %) "
          f"exactly{misses}, in {time.perf_counter() - started:.1f} s wall, "
          f"{args.jobs} at a time")
    return 0 if detected == len(results) else 1


def _profiles_over_seeds(args: argparse.Namespace, work: Path, started: float) -> int:
    """Every profile under several sniffers (seeds): how often each is caught on its own
    requirement, and any FAIL or ERROR elsewhere (which there must never be). A profile
    a sniffer misses the evidence of is INCONCLUSIVE there, never passed."""
    profiles = args.profile or list(PROFILES)
    runs = [run_profiles(profiles, work, args.dut, args.jobs, args.sniffer_miss, seed)
            for seed in range(args.sniffer_seeds)]
    ok = True
    for position, profile in enumerate(profiles):
        results = [run[position] for run in runs]
        caught = sum(result.detected for result in results)
        unexpected = sorted({item for result in results for item in result.unexpected})
        ok = ok and caught > 0 and not unexpected
        print(f"{profile:24} {results[0].side:6} {results[0].requirement:9} caught in "
              f"{caught}/{len(results)} sniffers  unexpected: {', '.join(unexpected) or '-'}")
    caught_all = sum(all(run[position].detected for run in runs)
                     for position in range(len(profiles)))
    print(f"{caught_all}/{len(profiles)} profiles caught under every one of "
          f"{args.sniffer_seeds} sniffers missing {args.sniffer_miss:.0%}; "
          f"{'no' if ok else 'SOME'} FAIL or ERROR elsewhere or profile never caught, in "
          f"{time.perf_counter() - started:.1f} s wall, {args.jobs} at a time")
    return 0 if ok else 1


def _profiles_over_variants(args: argparse.Namespace, work: Path, started: float) -> int:
    """Every profile on every HAN variant: caught on its own requirement, nothing else
    FAILs but what a rule declares for the variant (campaigns.EXPECTED_DIFFERENCES),
    and a profile goes uncaught only where campaigns.UNCAUGHT says why."""
    ok = True
    for variant in args.variant or tuple(campaigns.VARIANTS):
        declared = campaigns.EXPECTED_DIFFERENCES.get(variant, {})
        allowed = {short.split("/")[0] for short, (verdicts, _) in declared.items()
                   if "FAIL" in verdicts}
        results = run_profiles(args.profile or list(PROFILES), work, args.dut, args.jobs,
                               variant=variant)
        caught = 0
        for result in results:
            unexpected = [item for item in result.unexpected
                          if not (item.startswith("FAIL ") and item.split()[1] in allowed)]
            why = campaigns.UNCAUGHT.get((variant, result.profile))
            if result.detected and not unexpected:
                caught += 1
            elif not result.detected and not unexpected and why:
                print(f"  {variant}: {result.profile} ({result.requirement}) uncaught, as "
                      f"declared: {why}")
            else:
                ok = False
                print(f"  {variant}: {result.line()}")
        print(f"{variant}: {caught}/{len(results)} profiles caught exactly"
              + (f" (FAIL on {', '.join(sorted(allowed))} declared)" if allowed else ""))
    print(f"profiles on the HAN variants: {'only declared' if ok else 'UNEXPECTED'} "
          f"misses and FAILs, {time.perf_counter() - started:.1f} s wall, "
          f"{args.jobs} at a time")
    return 0 if ok else 1


def _campaign(args: argparse.Namespace, work: Path) -> int:
    if args.campaign == "profiles":
        return _profiles_over_variants(args, work, time.perf_counter())
    if args.campaign == "sniffer":
        rates = campaigns.RATES if args.rates is None else tuple(
            float(rate) for rate in args.rates.split(","))
        lines, ok = campaigns.sniffer_campaign(work, args.dut, args.jobs, args.seeds or 20,
                                               rates)
    elif args.campaign == "imperfect":
        lines, ok = campaigns.imperfect_campaign(work, args.dut, args.jobs, args.seeds or 3,
                                                 args.variant or tuple(campaigns.VARIANTS))
    else:
        lines, ok = campaigns.variants_campaign(work, args.dut, args.jobs,
                                                args.variant or tuple(campaigns.VARIANTS))
    print("\n".join(lines))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
