"""Campaigns of ``make mutation`` over the imperfect emulated HAN (``hanota.emulators.knobs``).

Why: the suite must give no false FAIL on an imperfect capture of a conformant HAN, and
must still catch every fault. The emulator's knobs make the imperfections; these
campaigns run the whole suite under them and count what moves:

- ``sniffer``: the conformant HAN, every exchange, with a sniffer missing 1 %, 5 % and
  10 % of the frames, N seeds each: how many verdicts that PASS with a perfect sniffer
  stay PASS, how many turn INCONCLUSIVE (and why, the commonest reasons first), and
  every FAIL or ERROR, which must not happen;
- ``variants``: the suite once per HAN variant (routed, rejoin, ...) against the plain
  HAN: every scenario whose verdict differs, and whether a rule says it should;
- ``imperfect``: every HAN variant under each imperfect sniffer of ``SNIFFERS`` (frames
  missed, frames corrupted, FCS not stored), N seeds each: no FAIL or ERROR but those a
  rule declares for the variant (the two imperfections together are where the page
  request's missed responses once gave FRAG-1 a false FAIL).

The profile run with sniffer misses is ``python -m hanota.selftest.mutation --sniffer-miss 0.01``.
"""

from __future__ import annotations

import re
import time
from collections import Counter
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import TypeVar

from hanota.emulators.knobs import VARIANTS
from hanota.selftest.refcaptures import SCENARIO_IDS
from hanota.selftest.suite import SuiteRun, run_suite

T = TypeVar("T")
R = TypeVar("R")

RATES = (0.01, 0.05, 0.10)
PASS, FAIL, ERROR, INCONCLUSIVE = "PASS", "FAIL", "ERROR", "INCONCLUSIVE"
SHOWN_REASONS = 5
SHOWN_FAILURES = 12
REASON_CHARS = 110
# DUT variants a HAN variant needs to be described truthfully: (PICS key, value).
PICS_FOR_VARIANT: dict[str, tuple[str, str]] = {"page-request": ("image_page_request", "true")}
# Fault profiles a HAN variant hides, by (variant, profile): why the fault cannot show.
UNCAUGHT: dict[tuple[str, str], str] = {
    ("broadcast-notify", "notify-non-target"): "the fault is a unicast notify to a "
    "non-target; this CHF broadcasts its notify",
    ("broadcast-notify", "requires-hw-version"): "a broadcast notify of payload type 0 "
    "names no image, so the CHF shows none held for the device: its refusal is routine",
    ("rejoin", "starves-han"): "the device is rejoining as its meter read falls due: no "
    "read inside the download",
    ("self-scheduled", "ignores-notify"): "the device's own periodic query comes inside "
    "the notify's window: on the air it answers",
    ("self-scheduled", "never-notifies"): "the device queries before a notify would be "
    "due: its absence is not provable",
    ("page-request", "no-pacing"): "a page's blocks are paced by the CHF, not the device",
    ("page-request", "wrong-offset"): "the fault shifts an Image Block Response to a block "
    "request; a page's responses are right",
    ("rogue-spoofs-chf", "answers-cad-notify"): "the rogue notifies from the CHF's short "
    "address: the device's query to it may answer either",
}
# The imperfect sniffers of the imperfect campaign: name -> the emulator's sniffer knobs.
SNIFFERS: dict[str, tuple[str, ...]] = {
    "miss 3 %": ("--sniffer-miss", "0.03"),
    "corrupt 3 %": ("--sniffer-corrupt", "0.03"),
    "no FCS stored, miss 1 %": ("--sniffer-fcs", "stripped", "--sniffer-miss", "0.01"),
}
# Verdicts a variant may give, by scenario short name: (the verdicts, the rule that says
# so). One verdict: the variant must give it; several: any of them is right.
UNICAST_NOTIFY = ((FAIL,), "NOTIFY-1 requires a unicast Image Notify to the target")
PAGED = ((INCONCLUSIVE,), "FRAG-3 judges the device's pace; a page's blocks are paced by "
         "the CHF at the response spacing")
OFF_AIR_READ = ((PASS, INCONCLUSIVE), "FRAG-6 needs a meter read inside the download; a "
                "short one may hold none when the device is rejoining as its read falls due")
EXPECTED_DIFFERENCES: dict[str, dict[str, tuple[tuple[str, ...], str]]] = {
    "broadcast-notify": {"NOTIFY-1/chf/upgrade": UNICAST_NOTIFY,
                         "NOTIFY-1/chf/two-devices": UNICAST_NOTIFY},
    "page-request": {"FRAG-3/device/upgrade": PAGED, "FRAG-3/device/two-devices": PAGED},
    "rejoin": {"FRAG-6/chf/upgrade": OFF_AIR_READ},
}


def parallel(function: Callable[[T], R], items: Iterable[T], jobs: int) -> list[R]:
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        return list(pool.map(function, items))


def dut_variant(directory: Path, base: Path | None, key: str, value: str) -> Path:
    """A copy of the DUT description (default: the emulated HAN's) with ``key = value``."""
    text = base.read_text() if base is not None else \
        resources.files("hanota.dut").joinpath("default_dut.toml").read_text()
    text, count = re.subn(rf"^{key} = .*$", f"{key} = {value}", text, flags=re.MULTILINE)
    if count != 1:
        raise ValueError(f"the DUT description has no single line '{key} = ...'")
    path = directory / f"dut-{key}.toml"
    path.write_text(text)
    return path


def short_names() -> dict[str, str]:
    """Scenario test name -> short name "REQUIREMENT/role/label" (hanota.selftest.refcaptures)."""
    return {test: short for short, test in SCENARIO_IDS.items()}


def short_name(scenario: str, names: dict[str, str]) -> str:
    test = scenario.split("::")[-1]
    return names.get(test, test)


def reason_key(reason: str) -> str:
    """A reason without its numbers and frame listings, so alike reasons count together."""
    first = reason.splitlines()[0] if reason else "(no reason given)"
    first = re.sub(r"0x[0-9A-Fa-f]+|\d+(\.\d+)?", "#", first)
    return first[:REASON_CHARS]


@dataclass
class RateTally:
    """What one sniffer miss rate did to the verdicts that PASS with a perfect sniffer."""

    rate: float
    runs: int = 0
    verdicts: Counter = field(default_factory=Counter)  # every scenario of every run
    from_pass: Counter = field(default_factory=Counter)  # those that PASS perfectly
    inconclusive: Counter = field(default_factory=Counter)  # (short, reason key)
    failures: Counter = field(default_factory=Counter)  # (verdict, short, reason key)
    empty_runs: list[str] = field(default_factory=list)

    def add(self, run: SuiteRun, passing: set[str], names: dict[str, str], seed: int) -> None:
        self.runs += 1
        if not run.scenarios:
            self.empty_runs.append(f"seed {seed}: no verdicts (pytest exit {run.exit_code})")
        for scenario in run.scenarios:
            verdict, short = scenario["verdict"], short_name(scenario["scenario"], names)
            self.verdicts[verdict] += 1
            if scenario["scenario"] in passing:
                self.from_pass[verdict] += 1
                if verdict == INCONCLUSIVE:
                    self.inconclusive[(short, reason_key(scenario["reason"]))] += 1
            if verdict in (FAIL, ERROR):
                self.failures[(verdict, short, reason_key(scenario["reason"]))] += 1

    @property
    def clean(self) -> bool:
        return not self.failures and not self.empty_runs

    def lines(self) -> list[str]:
        was_pass = sum(self.from_pass.values())
        stayed = self.from_pass[PASS]
        share = 100 * stayed / was_pass if was_pass else 0.0
        counts = ", ".join(f"{n} {v}" for v, n in sorted(self.verdicts.items()))
        lines = [f"miss {self.rate:.0%}: {self.runs} runs; of {was_pass} verdicts PASS with a "
                 f"perfect sniffer, {stayed} stay PASS ({share:.1f} %), "
                 f"{self.from_pass[INCONCLUSIVE]} INCONCLUSIVE, {self.from_pass[FAIL]} FAIL, "
                 f"{self.from_pass[ERROR]} ERROR; all verdicts: {counts}"]
        for (short, reason), count in self.inconclusive.most_common(SHOWN_REASONS):
            lines.append(f"    INCONCLUSIVE {count:3}x {short}: {reason}")
        fails = sum(self.failures.values())
        lines.append(f"  FAIL/ERROR: {fails}" + ("" if fails else " (none)"))
        ranked = self.failures.most_common()
        for (verdict, short, reason), count in ranked[:SHOWN_FAILURES]:
            lines.append(f"    {verdict:5} {count:3}x {short}: {reason}")
        if len(ranked) > SHOWN_FAILURES:
            rest = sum(count for _, count in ranked[SHOWN_FAILURES:])
            lines.append(f"    ... {rest} more in {len(ranked) - SHOWN_FAILURES} other kinds")
        lines += [f"  {line}" for line in self.empty_runs]
        return lines


def sniffer_campaign(work: Path, dut: Path | None, jobs: int, seeds: int,
                     rates: Iterable[float] = RATES) -> tuple[list[str], bool]:
    """The conformant suite with a sniffer missing each rate of the frames, ``seeds``
    seeds per rate (each seed also changes the HAN's own randomness)."""
    started = time.perf_counter()
    names = short_names()
    baseline = run_suite("emulator", dut=dut, out=work / "perfect")
    passing = {scenario for scenario, verdict in baseline.verdicts.items() if verdict == PASS}
    plan = [(rate, seed) for rate in rates for seed in range(seeds)]

    def one(item: tuple[float, int]) -> tuple[float, int, SuiteRun]:
        rate, seed = item
        out = work / f"miss-{rate:g}-seed-{seed}"
        return rate, seed, run_suite("emulator", dut=dut, seed=seed, out=out,
                                     extra=("--sniffer-miss", str(rate)))

    tallies = {rate: RateTally(rate) for rate in rates}
    for rate, seed, run in parallel(one, plan, jobs):
        tallies[rate].add(run, passing, names, seed)
    lines = [f"sniffer campaign: {len(baseline.verdicts)} scenarios, {len(passing)} PASS with "
             f"a perfect sniffer (seed 0); {seeds} seeds per miss rate"]
    for tally in tallies.values():
        lines += tally.lines()
    clean = all(tally.clean for tally in tallies.values()) and bool(passing)
    lines.append(f"sniffer campaign: {'no' if clean else 'SOME'} FAIL/ERROR in "
                 f"{len(plan)} runs, {time.perf_counter() - started:.1f} s wall, "
                 f"{jobs} at a time")
    return lines, clean


def variant_dut(work: Path, dut: Path | None, variant: str) -> Path | None:
    if variant not in PICS_FOR_VARIANT:
        return dut
    directory = work / f"{variant}-dut"
    directory.mkdir(parents=True, exist_ok=True)
    return dut_variant(directory, dut, *PICS_FOR_VARIANT[variant])


def compare(plain: SuiteRun, varied: SuiteRun, variant: str, names: dict[str, str],
            ) -> tuple[list[str], bool]:
    """One line per scenario whose verdict moved, or did not move where a rule says it
    must; ok when every move is one a rule explains and every such move happened."""
    expected = EXPECTED_DIFFERENCES.get(variant, {})
    reasons = {s["scenario"]: reason_key(s["reason"]) for s in varied.scenarios}
    lines, ok = [], bool(varied.scenarios)
    for scenario in sorted(set(plain.verdicts) | set(varied.verdicts)):
        before, after = plain.verdicts.get(scenario), varied.verdicts.get(scenario)
        short = short_name(scenario, names)
        allowed, why = expected.get(short, ((before,), ""))
        if before == after and after in allowed:
            continue
        if after in allowed:
            note = f"expected: {why}"
        else:
            ok = False
            note = f"MISSED, expected {' or '.join(allowed)}: {why}" if why else "UNEXPECTED"
        lines.append(f"    {short}: {before} -> {after} ({note}) {reasons.get(scenario, '')}")
    return lines, ok


def variants_campaign(work: Path, dut: Path | None, jobs: int,
                      variants: Iterable[str] = tuple(VARIANTS)) -> tuple[list[str], bool]:
    """The suite once on the plain HAN and once per variant; the verdicts that moved."""
    started = time.perf_counter()
    names = short_names()
    variants = list(variants)

    def one(variant: str) -> SuiteRun:
        if not variant:
            return run_suite("emulator", dut=dut, out=work / "plain")
        return run_suite("emulator", dut=variant_dut(work, dut, variant),
                         out=work / f"variant-{variant}", extra=("--han-variant", variant))

    plain, *runs = parallel(one, ["", *variants], jobs)
    counts = sorted(Counter(plain.verdicts.values()).items())
    lines = [f"variant comparison: {len(plain.verdicts)} scenarios on the plain HAN "
             f"({', '.join(f'{n} {v}' for v, n in counts)})"]
    all_ok = bool(plain.scenarios)
    for variant, run in zip(variants, runs, strict=True):
        moved, ok = compare(plain, run, variant, names)
        all_ok = all_ok and ok
        extra = f" (DUT with {'='.join(PICS_FOR_VARIANT[variant])})" \
            if variant in PICS_FOR_VARIANT else ""
        head = f"  {variant}{extra}: "
        lines.append(head + (f"{len(moved)} verdicts differ" if moved
                             else f"same verdicts on all {len(run.verdicts)} scenarios"))
        lines += moved
    lines.append(f"variant comparison: {'only expected' if all_ok else 'UNEXPECTED'} "
                 f"differences, {len(variants) + 1} runs in "
                 f"{time.perf_counter() - started:.1f} s wall, {jobs} at a time")
    return lines, all_ok


def imperfect_campaign(work: Path, dut: Path | None, jobs: int, seeds: int,
                       variants: Iterable[str] = tuple(VARIANTS)) -> tuple[list[str], bool]:
    """Every variant under every imperfect sniffer, ``seeds`` seeds each: a FAIL or an
    ERROR is allowed only where EXPECTED_DIFFERENCES declares FAIL for the variant."""
    started = time.perf_counter()
    names = short_names()
    variants = list(variants)
    plan = [(variant, sniffer, seed) for variant in variants for sniffer in SNIFFERS
            for seed in range(seeds)]

    def one(item: tuple[str, str, int]) -> tuple[str, str, int, SuiteRun]:
        variant, sniffer, seed = item
        out = work / f"{variant}-{'-'.join(SNIFFERS[sniffer])}-seed-{seed}"
        return variant, sniffer, seed, run_suite(
            "emulator", dut=variant_dut(work, dut, variant), seed=seed, out=out,
            extra=("--han-variant", variant, *SNIFFERS[sniffer]))

    lines: list[str] = []
    verdicts: Counter = Counter()
    ok = True
    for variant, sniffer, seed, run in parallel(one, plan, jobs):
        verdicts.update(run.verdicts.values())
        if not run.scenarios:
            ok = False
            lines.append(f"  {variant}, {sniffer}, seed {seed}: no verdicts "
                         f"(pytest exit {run.exit_code})")
        declared = EXPECTED_DIFFERENCES.get(variant, {})
        for scenario in run.scenarios:
            short = short_name(scenario["scenario"], names)
            if scenario["verdict"] not in (FAIL, ERROR) or \
                    scenario["verdict"] in declared.get(short, ((), ""))[0]:
                continue
            ok = False
            lines.append(f"  {variant}, {sniffer}, seed {seed}: {scenario['verdict']} "
                         f"{short}: {reason_key(scenario['reason'])}")
    counts = ", ".join(f"{count} {verdict}" for verdict, count in sorted(verdicts.items()))
    head = (f"imperfect campaign: {len(plan)} runs ({len(variants)} variants x "
            f"{len(SNIFFERS)} sniffers x {seeds} seeds): {counts}")
    lines.insert(0, head)
    lines.append(f"imperfect campaign: {'no' if ok else 'SOME'} FAIL/ERROR but those declared, "
                 f"{time.perf_counter() - started:.1f} s wall, {jobs} at a time")
    return lines, ok
