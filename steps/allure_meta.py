"""What the Allure results say about the run as a whole: environment, executor, categories.

Why a module of its own: the per-scenario results come from allure-pytest-bdd and the
plugin's labels; this adds the three run-level files Allure reads from the results
directory, once, when the session ends:

- ``environment.properties``: the DUT, the target and the suite's version (package
  version and git commit), shown in the report's environment panel;
- ``executor.json``: who ran it and when it ended, and the report's name (SECMP0007, the
  DUT, the target), which ``allurerc.mjs`` takes as the report title;
- ``categories.json``: the verdict reasons grouped (``CATEGORIES`` below). Allure 2 reads
  the file as it is; Allure 3 takes categories from its config only, so ``allurerc.mjs``
  reads this file and hands the same rules over. One table, two readers;
- ``performance.json``: the run's metrics for Allure 3's Metrics section and its history:
  scenarios per verdict (Allure's own status trend counts INCONCLUSIVE and NOT APPLICABLE
  both as "skipped"; a test house drives the INCONCLUSIVE count down) and the run time.

Loaded by ``hanota.steps.plugin`` (its ``pytest_plugins``); writes nothing without
``--alluredir``, and only in the controlling process under pytest-xdist.
"""

from __future__ import annotations

import json
import subprocess
import time
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import pytest
from hanota.dut.description import DutError, load_dut

ROOT = Path(__file__).resolve().parents[1]
SUITE = "SECMP0007 OTA conformance"


@dataclass(frozen=True)
class Category:
    """One group of verdict reasons in the report's Categories tab.

    ``verdict`` is the suite's verdict (FAIL, ERROR, INCONCLUSIVE, NOT APPLICABLE).
    ``starts`` are regular expressions for how the reason STARTS (after the verdict word,
    or the exception's name, and an optional requirement id such as ``VER-6: ``);
    ``contains`` are stable phrases found anywhere in it (for reasons that name the rule's
    subject first, e.g. "no Image Notify within 30 s, but the sniffer may have missed
    it"). Neither: every reason of that verdict. Rules are tried in table order, the first
    match wins, so put the specific ones before the catch-all of their verdict.
    ``status`` is Allure's status where it is not the verdict's usual one (a pytest skip
    without a verdict is an ERROR).
    """

    name: str
    verdict: str
    starts: tuple[str, ...] = ()
    description: str = ""
    contains: tuple[str, ...] = ()
    status: str = ""

    @property
    def allure_status(self) -> str:
        return self.status or ALLURE_STATUS[self.verdict]


CATEGORIES: tuple[Category, ...] = (
    Category("INCONCLUSIVE: situation not recorded", "INCONCLUSIVE",
             (r"situation\b",),
             "The capture set has no capture of the situation this scenario judges: "
             "record it and add it to situations.toml."),
    Category("INCONCLUSIVE: sniffer gap or capture cut short", "INCONCLUSIVE",
             (r"sniffer\b", r"gap\b", r"live source ended", r"no further evidence within",
              r"the trace ends before", r"the capture (?:ends|stops)"),
             "The sniffer missed air or stopped before the rule's window closed: absence "
             "cannot be proved, so nothing is failed. Look at the sniffer's coverage.",
             contains=(r"the sniffer may have missed", r"sniffer gap",
                       r"the capture does not show the HAN")),
    Category("INCONCLUSIVE: no certificate", "INCONCLUSIVE",
             (r"no (?:CHF )?certificate",),
             "Signatures cannot be checked without the CHF's certificate (--chf-cert)."),
    Category("INCONCLUSIVE: no GBCS messages", "INCONCLUSIVE",
             (r"the trace holds no GBCS", r"no GBCS"),
             "The WAN side (GBCS alerts, commands) is missing: give --alerts, or the "
             "situation's alerts in the capture set."),
    Category("INCONCLUSIVE: the trace does not show the situation", "INCONCLUSIVE", (),
             "Every other INCONCLUSIVE: the capture lacks the exchange or stimulus the "
             "scenario needs. Never counted as a pass."),
    Category("NOT APPLICABLE: the other side is under test", "NOT APPLICABLE",
             (r"the DUT's role",),
             "The DUT description's role excludes this scenario's side."),
    Category("NOT APPLICABLE: not claimed in the PICS", "NOT APPLICABLE", (),
             "The PICS does not claim the option, or the rule is outside the suite."),
    Category("FAIL: rule broken", "FAIL", (),
             "The trace shows the rule broken; the reason and the capture slice name the "
             "frames."),
    Category("ERROR: could not be judged", "ERROR", (),
             "An exception other than a broken rule: unusable input or a bug in the suite."),
    Category("ERROR: skipped without a verdict", "ERROR", (),
             "A pytest skip whose reason is neither INCONCLUSIVE nor NOT APPLICABLE: a "
             "defect of the suite.", status="skipped"),
)

VERDICTS = ("PASS", "FAIL", "ERROR", "INCONCLUSIVE", "NOT APPLICABLE")
ALLURE_STATUS = {"FAIL": "failed", "ERROR": "broken", "INCONCLUSIVE": "skipped",
                 "NOT APPLICABLE": "skipped"}
"""How the plugin's verdicts reach Allure: pytest skips carry the verdict word first."""

_ANY = r"[\s\S]*"
_REQUIREMENT = r"(?:[A-Z]+-\d+: )?"


def message_regex(category: Category) -> str:
    """The rule as a regex over Allure's status message, matching the WHOLE message.

    Whole-message because Allure 2 uses Java's ``matches`` (Allure 3's search would do
    with less); ``[\\s\\S]`` because both Java and JavaScript read it (no inline flags).
    Skips carry ``Skipped: <VERDICT>: <reason>``, failures ``<exception>: <reason>``.
    """
    if category.verdict in ("INCONCLUSIVE", "NOT APPLICABLE"):
        head = rf"^(?:Skipped: )?{category.verdict}: {_REQUIREMENT}"  # letters and a space
    else:
        head = rf"^(?:[\w.]+: )?{_REQUIREMENT}"
    ways = [f"(?:{start})" for start in category.starts]
    ways += [f"{_ANY}?(?:{phrase})" for phrase in category.contains]
    return head + (f"(?:{'|'.join(ways)})" if ways else "") + _ANY + "$"


def categories_json() -> list[dict[str, object]]:
    """The table in Allure 2's ``categories.json`` form (which Allure 3 also accepts)."""
    return [{"name": c.name, "description": c.description,
             "matchedStatuses": [c.allure_status], "messageRegex": message_regex(c)}
            for c in CATEGORIES]


def suite_version() -> str:
    """The package version, plus the git commit (and ``-dirty``) when run from a clone."""
    try:
        version = metadata.version("hanota")
    except metadata.PackageNotFoundError:
        version = "unknown"
    if not (ROOT / ".git").exists():
        return version
    try:
        commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short=12", "HEAD"],
                                capture_output=True, text=True, timeout=10, check=True)
        dirty = subprocess.run(["git", "-C", str(ROOT), "diff", "--quiet", "HEAD", "--"],
                               capture_output=True, timeout=10, check=False).returncode
    except (OSError, subprocess.SubprocessError):
        return version
    return f"{version} (commit {commit.stdout.strip()}{'-dirty' if dirty else ''})"


def _option(config: pytest.Config, name: str) -> object:
    """An option of the plugin, or None where this version of the plugin lacks it."""
    return config.getoption(name, default=None)


def describe_dut(config: pytest.Config) -> str:
    """The DUT in one line: its node, kind, EUI-64, firmware and description file."""
    path = _option(config, "dut")
    where = str(path) if path else "emulated HAN (default)"
    try:
        dut = load_dut(path)  # type: ignore[arg-type]
    except (DutError, OSError):
        return where
    node = dut.dut
    firmware = f", firmware 0x{node.current_version:08X}" if node.current_version else ""
    side = "both sides" if dut.role == "both" else f"{dut.role} side"
    return (f"{node.name} ({node.kind.upper()} {node.eui64}{firmware}; {side}) from "
            f"{where}")


def describe_target(config: pytest.Config) -> str:
    """The target and what feeds it: capture (set), sniffer source or fault profile."""
    target = str(_option(config, "target") or "emulator")
    inputs = [f"{label} {value}" for label, value in (
        ("capture set", _option(config, "capture_set")),
        ("capture", _option(config, "capture_file")),
        ("alerts", _option(config, "alerts")),
        ("source", _option(config, "source")),
        ("profile", _option(config, "dut_profile"))) if value]
    return target + (f" ({', '.join(inputs)})" if inputs else "")


def report_name(dut: str, target: str) -> str:
    return f"{SUITE} · DUT {dut} · target {target}"


def properties(values: dict[str, str]) -> str:
    """Java ``.properties`` text: ASCII only, separators and non-ASCII escaped."""
    def escape(text: str, key: bool) -> str:
        out = []
        for i, char in enumerate(text):
            if char in "\\=:#!" or (char == " " and (key or i == 0)):
                out.append("\\" + char)
            elif char == "\n":
                out.append("\\n")
            elif ord(char) > 0x7E or ord(char) < 0x20:
                out.extend(f"\\u{unit:04x}" for unit in _utf16_units(char))
            else:
                out.append(char)
        return "".join(out)
    return "".join(f"{escape(k, True)}={escape(v, False)}\n" for k, v in values.items())


def _utf16_units(char: str) -> list[int]:
    data = char.encode("utf-16-be")
    return [int.from_bytes(data[i:i + 2], "big") for i in range(0, len(data), 2)]


def verdict_of(result: dict) -> str:
    """A scenario's verdict from its Allure result, by the rules the categories use."""
    status = result.get("status")
    if status == "skipped":
        reason = str(result.get("statusDetails", {}).get("message", "")).removeprefix("Skipped: ")
        labelled = [v for v in ("INCONCLUSIVE", "NOT APPLICABLE") if reason.startswith(v + ":")]
        return labelled[0] if labelled else "ERROR"
    return {"passed": "PASS", "failed": "FAIL", "broken": "ERROR"}.get(str(status), "ERROR")


def run_metrics(results: Path, started_ms: int, stopped_ms: int) -> list[dict[str, object]]:
    """Scenarios per verdict among this session's results, and the run time, as Allure 3
    metrics (results of earlier sessions in the same directory are not counted)."""
    counts = dict.fromkeys(VERDICTS, 0)
    for path in results.glob("*-result.json"):
        result = json.loads(path.read_text(encoding="utf-8"))
        if int(result.get("start") or 0) >= started_ms:
            counts[verdict_of(result)] += 1
    better = {"PASS": "higher", "NOT APPLICABLE": "neutral"}

    def metric(key: str, value: float, title: str, unit: str, group: str,
               direction: str) -> dict[str, object]:
        return {"id": key, "key": key, "value": value, "title": title, "unit": unit,
                "group": group, "better": direction, "start": started_ms, "stop": stopped_ms}

    metrics = [metric("verdicts." + verdict.lower().replace(" ", "_"), count, verdict,
                      "scenarios", "verdicts", better.get(verdict, "lower"))
               for verdict, count in counts.items()]
    metrics.append(metric("run.time", (stopped_ms - started_ms) / 1e3, "run time", "s", "run",
                          "lower"))
    return metrics


def write_run_files(results: Path, config: pytest.Config, started_ms: int) -> None:
    """Write the run-level files into the Allure results directory."""
    results.mkdir(parents=True, exist_ok=True)
    stopped_ms = int(time.time() * 1000)
    version, dut, target = suite_version(), describe_dut(config), describe_target(config)
    environment = {"DUT": dut, "target": target, "suite": f"hanota {version}",
                   "requirements": "SECMP0007"}
    # buildOrder is the run's end (ms since the epoch): allurerc.mjs tells the history
    # points made from this run's results (made later) from those of earlier runs by it
    executor = {"name": "hanota", "type": "local",
                "buildName": f"hanota {version}, {time.strftime('%Y-%m-%d %H:%M:%S %Z')}",
                "buildOrder": stopped_ms, "reportName": report_name(dut, target)}
    (results / "environment.properties").write_text(properties(environment), encoding="ascii")
    (results / "executor.json").write_text(json.dumps(executor, indent=1), encoding="utf-8")
    (results / "categories.json").write_text(json.dumps(categories_json(), indent=1),
                                             encoding="utf-8")
    (results / "performance.json").write_text(
        json.dumps(run_metrics(results, started_ms, stopped_ms), indent=1), encoding="utf-8")


STARTED_MS = pytest.StashKey[int]()


def pytest_sessionstart(session: pytest.Session) -> None:
    session.config.stash[STARTED_MS] = int(time.time() * 1000)


def pytest_sessionfinish(session: pytest.Session) -> None:
    config = session.config
    results = getattr(config.option, "allure_report_dir", None)
    if results and not hasattr(config, "workerinput"):
        write_run_files(Path(results), config, config.stash[STARTED_MS])
