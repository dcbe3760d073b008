"""The device x Comms Hub matrix: the ``verdicts.json`` of many runs merged into one page.

Why: SECMP0007 asks that every upgradeable HAN device be tested with every Comms Hub; a
campaign is many runs (one per pair, made anywhere: one CI job each) and a reviewer
wants one table. Rows are devices, columns are Comms Hubs, both named by the identity
the run's DUT description states (``verdicts.json``'s ``run.device`` and ``run.chf``:
the ``[dut]`` and ``[dut.peer]`` tables, by role). A cell shows the worst verdict of its
runs (``hanota.verify.report.PRECEDENCE``) and links to each run's ``conformance.html``.

The merge reads nothing but the run directories it is given, and every link is relative
to the matrix's own folder: runs copied from CI artefacts into any layout merge alike.
"""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from hanota.html_page import badge, esc, page
from hanota.statement import HTML_NAME, NOT_RUN, counts_text, side_name
from hanota.verify.report import ScenarioVerdict, requirement_verdicts, worst_verdict
from hanota.verify.verdicts import ERROR, FAIL, INCONCLUSIVE

TITLE = "SECMP0007 OTA device × Comms Hub matrix"
HTML_FILE = "matrix.html"
MD_FILE = "matrix.md"
_FIELDS = {f.name for f in dataclasses.fields(ScenarioVerdict)}
ROLE_TEXT = {"device": "device side", "chf": "Comms Hub side", "both": "both sides"}


class MatrixError(ValueError):
    """A run directory the merge cannot use; names the directory and what is missing."""


@dataclass
class RunEntry:
    """One run as the matrix shows it."""

    directory: Path
    device: str
    chf: str
    role: str
    target: str
    suite: str
    started: str
    verdict: str
    requirement_counts: str
    not_passed: dict[str, list[str]]
    statement: Path | None

    def link(self, out: Path) -> str | None:
        """The run's statement relative to the matrix's folder (``/`` separated)."""
        if self.statement is None:
            return None
        return Path(os.path.relpath(self.statement.resolve(), out.resolve())).as_posix()

    def problems(self) -> str:
        """``FAIL: VER-1, VER-2; INCONCLUSIVE: 5 requirements``: what did not pass (or
        was not run: a run of some requirements passes only those)."""
        parts = []
        for verdict, requirements in self.not_passed.items():
            if verdict in (INCONCLUSIVE, NOT_RUN) and len(requirements) > 4:
                parts.append(f"{verdict}: {len(requirements)} requirements")
            elif requirements:
                parts.append(f"{verdict}: {', '.join(requirements)}")
        return "; ".join(parts)


def load_run(directory: Path) -> RunEntry:
    """Read a run's ``verdicts.json`` (a ``--out`` directory) into a matrix entry."""
    path = Path(directory) / "verdicts.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise MatrixError(f"{directory}: no verdicts.json (give the --out directory of a "
                          "run)") from None
    except (OSError, ValueError) as error:
        raise MatrixError(f"{path}: not readable as JSON ({error})") from error
    run = data.get("run")
    if not isinstance(run, dict) or "device" not in run or "chf" not in run:
        raise MatrixError(f"{path}: no run header (key 'run' with the device and the Comms "
                          "Hub): the run was made by a hanota without it; run it again")
    results = [ScenarioVerdict(**{k: v for k, v in s.items() if k in _FIELDS})
               for s in data.get("scenarios", [])]
    table = requirement_verdicts(results)
    not_passed = {verdict: [req for req, row in table.items() if row["verdict"] == verdict]
                  for verdict in (FAIL, ERROR, INCONCLUSIVE, NOT_RUN)}
    statement = Path(directory) / HTML_NAME
    return RunEntry(
        directory=Path(directory), device=side_name(run["device"]), chf=side_name(run["chf"]),
        role=run.get("dut", {}).get("role", "?"),
        target=run.get("target", {}).get("inputs") or run.get("target", {}).get("name", "?"),
        suite=run.get("suite", {}).get("version", "?"), started=run.get("started", ""),
        verdict=worst_verdict(r.verdict for r in results),
        requirement_counts=counts_text(row["verdict"] for row in table.values()),
        not_passed=not_passed, statement=statement if statement.is_file() else None)


@dataclass
class Matrix:
    """Runs by (device, Comms Hub), rows and columns in the order first given."""

    runs: list[RunEntry]
    devices: list[str] = field(default_factory=list)
    hubs: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        for run in self.runs:
            if run.device not in self.devices:
                self.devices.append(run.device)
            if run.chf not in self.hubs:
                self.hubs.append(run.chf)

    def cell(self, device: str, hub: str) -> list[RunEntry]:
        return [run for run in self.runs if run.device == device and run.chf == hub]

    def suites(self) -> list[str]:
        return sorted({run.suite for run in self.runs})


def merge(directories: list[Path]) -> Matrix:
    """The matrix of these run directories (one given twice counts once)."""
    seen: set[Path] = set()
    runs = []
    for directory in directories:
        key = Path(directory).resolve()
        if key not in seen:
            seen.add(key)
            runs.append(load_run(Path(directory)))
    if not runs:
        raise MatrixError("no run directory given")
    return Matrix(runs)


def _where(run: RunEntry, out: Path) -> str:
    return Path(os.path.relpath(run.directory.resolve(), out.resolve())).as_posix()


def matrix_markdown(matrix: Matrix, out: Path) -> str:
    lines = [f"# {TITLE}", "",
             "Rows: devices; columns: Comms Hubs (model and firmware from each run's DUT "
             "description). A cell: the worst verdict of its runs, with a link to each run's "
             "conformance statement.", "",
             "| device \\ Comms Hub | " + " | ".join(matrix.hubs) + " |",
             "|---|" + "---|" * len(matrix.hubs)]
    for device in matrix.devices:
        cells = []
        for hub in matrix.hubs:
            runs = matrix.cell(device, hub)
            if not runs:
                cells.append("not tested")
                continue
            links = ", ".join(f"[{run.verdict}, {ROLE_TEXT.get(run.role, run.role)}]"
                              f"({run.link(out) or _where(run, out)})" for run in runs)
            cells.append(f"**{worst_verdict(run.verdict for run in runs)}** ({links})")
        lines.append(f"| {device} | " + " | ".join(cells) + " |")
    lines += ["", "## Runs", "",
              "| run | device | Comms Hub | under test | target | suite | verdict | "
              "requirements | not passed |", "|---|---|---|---|---|---|---|---|---|"]
    for run in matrix.runs:
        lines.append(f"| {_where(run, out)} | {run.device} | {run.chf} | "
                     f"{ROLE_TEXT.get(run.role, run.role)} | {run.target} | {run.suite} | "
                     f"{run.verdict} | {run.requirement_counts} | {run.problems() or '-'} |")
    if len(matrix.suites()) > 1:
        lines += ["", f"Runs of different suite versions ({'; '.join(matrix.suites())}): "
                  "their verdicts may not compare."]
    return "\n".join(line.replace("\n", " ") for line in lines) + "\n"


def matrix_html(matrix: Matrix, out: Path) -> str:
    head = "".join(f"<th scope=\"col\">{esc(hub)}</th>" for hub in matrix.hubs)
    rows = []
    for device in matrix.devices:
        cells = []
        for hub in matrix.hubs:
            runs = matrix.cell(device, hub)
            if not runs:
                cells.append('<td class="empty muted">not tested</td>')
                continue
            worst = worst_verdict(run.verdict for run in runs)
            items = []
            for run in runs:
                link = run.link(out)
                name = (f'<a href="{esc(link)}">statement</a>' if link
                        else f"<code>{esc(_where(run, out))}</code> (no statement)")
                items.append(f"<li>{badge(run.verdict)} {name}, "
                             f"{esc(ROLE_TEXT.get(run.role, run.role))}"
                             f"<br><span class=\"muted\">{esc(run.problems())}</span></li>")
            cells.append(f'<td data-verdict="{esc(worst)}">{badge(worst)}'
                         f"<ul>{''.join(items)}</ul></td>")
        rows.append(f"<tr><th scope=\"row\">{esc(device)}</th>{''.join(cells)}</tr>")
    runs = "".join(
        f"<tr><td><code>{esc(_where(run, out))}</code></td><td>{esc(run.device)}</td>"
        f"<td>{esc(run.chf)}</td><td>{esc(ROLE_TEXT.get(run.role, run.role))}</td>"
        f"<td>{esc(run.target)}</td><td>{esc(run.suite)}</td><td>{esc(run.started)}</td>"
        f"<td>{badge(run.verdict)}</td><td>{esc(run.requirement_counts)}</td>"
        f"<td>{esc(run.problems() or '-')}</td></tr>" for run in matrix.runs)
    warning = ""
    if len(matrix.suites()) > 1:
        warning = (f"<p class=\"interpretation\">Runs of different suite versions "
                   f"({esc('; '.join(matrix.suites()))}): their verdicts may not compare.</p>")
    body = (f"<h1>{TITLE}</h1><p class=\"muted\">Rows: devices; columns: Comms Hubs (model "
            "and firmware from each run's DUT description). A cell: the worst verdict of its "
            "runs (FAIL, ERROR, INCONCLUSIVE, PASS, NOT APPLICABLE), with a link to each "
            f"run's conformance statement. {len(matrix.runs)} runs.</p>{warning}"
            f'<table id="matrix"><thead><tr><th>device \\ Comms Hub</th>{head}</tr></thead>'
            f"<tbody>{''.join(rows)}</tbody></table>"
            '<h2>Runs</h2><table id="runs"><tr><th>run</th><th>device</th><th>Comms Hub</th>'
            "<th>under test</th><th>target</th><th>suite</th><th>started (UTC)</th>"
            "<th>verdict</th><th>requirements</th><th>not passed</th></tr>"
            f"{runs}</table>")
    return page(TITLE, body)


def write_matrix(directories: list[Path], out: Path) -> tuple[Path, Path, Matrix]:
    """Merge the runs and write ``matrix.html`` and ``matrix.md`` into ``out``."""
    matrix = merge(directories)
    out.mkdir(parents=True, exist_ok=True)
    html_path, md_path = out / HTML_FILE, out / MD_FILE
    html_path.write_text(matrix_html(matrix, out), encoding="utf-8")
    md_path.write_text(matrix_markdown(matrix, out), encoding="utf-8")
    return html_path, md_path, matrix


def cell_lines(matrix: Matrix) -> list[str]:
    """The matrix as text lines, one per tested pair, for the terminal."""
    lines = []
    for device in matrix.devices:
        for hub in matrix.hubs:
            runs = matrix.cell(device, hub)
            if runs:
                lines.append(f"{worst_verdict(r.verdict for r in runs):<15} {device}  ×  {hub}"
                             f"  ({len(runs)} run{'s' if len(runs) > 1 else ''})")
    return lines

