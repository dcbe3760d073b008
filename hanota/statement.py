"""The conformance statement: what a test house hands over after a run.

``out/conformance.html`` (one self-contained file: style inline, pictures as ``data:``
URIs, no script, nothing fetched) and ``out/conformance.md`` hold, from the run header
(``hanota.steps.run_results.run_header``, also ``verdicts.json``'s ``run``) and the scenario
verdicts:

1. the DUT: the identity of both sides of the pair, the description file (with its
   SHA-256) and its nodes' EUI-64s;
2. the run: suite version and commit, target, tshark version, when, the command;
3. every evidence file with its SHA-256;
4. per requirement: the verdict (``hanota.verify.report.requirement_verdicts``, the summary's
   own precedence), the scenarios with theirs, the evidence frames or the reason, a
   picture of the exchange, and the interpretations marked as such;
5. the PICS and PIXIT used, and the interpretations with their sources and switches.

Why built from data and not from pytest: the same header and verdicts are in
``verdicts.json``, so what a statement says can be checked against the data the matrix
merges, and both are written by the one process that holds every verdict (under
pytest-xdist, the controller).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from hanota.html_page import badge, data_uri, esc, page
from hanota.verify.report import (
    PRECEDENCE,
    ScenarioVerdict,
    evidence_text,
    requirement_verdicts,
    row_evidence,
    worst_verdict,
)
from hanota.verify.requirements import REQUIREMENTS, area_of
from hanota.verify.verdicts import PASS

TITLE = "SECMP0007 OTA conformance statement"
HTML_NAME = "conformance.html"
MD_NAME = "conformance.md"
IDENTITY_ROWS = (("manufacturer", "manufacturer"), ("model", "model"),
                 ("firmware_version", "firmware version"),
                 ("hardware_version", "hardware version"), ("node", "node in the DUT file"),
                 ("kind", "kind"), ("eui64", "EUI-64"))
REASON_CHARS = 300
NOT_RUN = "NOT RUN"


def counts_text(verdicts: Iterable[str]) -> str:
    """``2 pass, 1 inconclusive``: how many had each verdict, worst first (requirements
    that no scenario judged last, as ``not run``)."""
    verdicts = list(verdicts)
    return ", ".join(f"{verdicts.count(v)} {v.lower()}" for v in (*PRECEDENCE, NOT_RUN)
                     if v in verdicts)


def side_name(side: dict[str, Any]) -> str:
    """A side of the pair as a person names it: manufacturer, model and firmware, or,
    where the description states no model, the node's kind and EUI-64."""
    model = side.get("model", "not stated")
    if model == "not stated":
        return f"{side.get('kind', '?').upper()} {side.get('eui64', '?')} (model not stated)"
    maker = side.get("manufacturer", "not stated")
    prefix = "" if maker == "not stated" else f"{maker} "
    return f"{prefix}{model}, firmware {side.get('firmware_version', 'not stated')}"


def tested_side(run: dict[str, Any]) -> str:
    role = run["dut"]["role"]
    return {"device": "the device", "chf": "the Comms Hub",
            "both": "the device and the Comms Hub"}.get(role, role)


def first_line(text: str, limit: int = REASON_CHARS) -> str:
    line = text.splitlines()[0] if text else ""
    return line if len(line) <= limit else line[:limit - 1] + "…"


def scenario_detail(result: ScenarioVerdict) -> str:
    """The evidence of a PASS (frames, WAN messages), else the reason's first line."""
    if result.verdict == PASS:
        return evidence_text(result.frames, result.wan) or "(no frames)"
    return first_line(result.reason)


def capture_of(result: ScenarioVerdict) -> str:
    """The capture's file name where the source names one, else the source."""
    for word in result.source.replace("+", " ").split():
        if word.endswith((".pcap", ".pcapng")):
            return word.rsplit("/", 1)[-1]
    return result.source or "-"


def requirement_figure(requirement: str, results: list[ScenarioVerdict],
                       verdict: str) -> str | None:
    """The picture that shows a requirement best: from a scenario with the requirement's
    own verdict (a FAIL shows the failing exchange), the download plot for a
    block-transfer requirement, else the sequence chart."""
    mine = [r for r in results if requirement in r.requirements and r.figures]
    mine.sort(key=lambda r: r.verdict != verdict)
    if not mine:
        return None
    figures = mine[0].figures
    if area_of(requirement) == "block_transfer":
        plots = [f for f in figures if f.endswith(".png")]
        if plots:
            return plots[0]
    charts = [f for f in figures if f.endswith(".svg")]
    return (charts or figures)[0]


def figure_caption(name: str) -> str:
    """``figures/upgrade.ppmid.plot.png`` -> ``download plot: upgrade, ppmid``."""
    stem = name.rsplit("/", 1)[-1]
    capture, _, rest = stem.partition(".")
    node, _, kind = rest.partition(".")
    what = "download plot" if kind.startswith("plot") else "message sequence chart"
    return f"{what}: {capture}, {'every node' if node == 'all' else node}"


class Statement:
    """The statement of one run: its header, its verdicts, where its figures are."""

    def __init__(self, run: dict[str, Any], results: list[ScenarioVerdict], out: Path) -> None:
        self.run = run
        self.results = results
        self.out = out
        self.table = requirement_verdicts(results)
        self.interpretations = {row["requirement"]: row for row in run.get("interpretations", [])}
        self.figures = {req: requirement_figure(req, results, row["verdict"])
                        for req, row in self.table.items()}

    @property
    def overall(self) -> str:
        return worst_verdict(row["verdict"] for row in self.table.values())

    def requirement_counts(self) -> str:
        return counts_text(row["verdict"] for row in self.table.values())

    def scenarios_of(self, requirement: str) -> list[ScenarioVerdict]:
        return [r for r in self.results if requirement in r.requirements]

    def detail(self, row: dict) -> str:
        if row["verdict"] == PASS:
            return row_evidence(row)
        return "; ".join(row["reasons"][:2])

    # -- Markdown -------------------------------------------------------------------
    def markdown(self) -> str:
        run, device, chf = self.run, self.run["device"], self.run["chf"]
        out = [f"# {TITLE}", "",
               f"**{side_name(device)}** (device) with **{side_name(chf)}** (Comms Hub); "
               f"under test: {tested_side(run)}.", "",
               f"Overall verdict: **{self.overall}** ({self.requirement_counts()} of "
               f"{len(self.table)} requirements; {len(self.results)} scenarios).", "",
               "## 1. Device under test", "",
               "| | device | Comms Hub |", "|---|---|---|"]
        for key, label in IDENTITY_ROWS:
            out.append(f"| {label} | {_md(device.get(key, ''))} | {_md(chf.get(key, ''))} |")
        out.append(f"| under test | {'yes' if device['under_test'] else 'no (reference)'} | "
                   f"{'yes' if chf['under_test'] else 'no (reference)'} |")
        dut = run["dut"]
        out += ["", f"DUT description: `{dut['file']['path']}`, SHA-256 "
                f"`{dut['file']['sha256']}`; role `{dut['role']}`, DUT node `{dut['node']}`.",
                "", "| node | kind | EUI-64 | short | CurrentFileVersion |",
                "|---|---|---|---|---|"]
        out += [f"| {n['name']} | {n['kind']} | {n['eui64']} | {n['short']} | "
                f"{n['current_version'] or '-'} |" for n in dut["nodes"]]
        out += ["", "## 2. The run", ""]
        out += [f"- **{label}**: {_md(value)}" for label, value in self.run_facts()]
        out += ["", "## 3. Evidence files", ""]
        if run["evidence"]:
            out += ["| file | path | bytes | SHA-256 |", "|---|---|---|---|"]
            out += [f"| {e['file']} | {_md(e['path'])} | {_size(e)} "
                    f"| `{e['sha256'] or e.get('error', '')}` |" for e in run["evidence"]]
        else:
            out.append(self.no_evidence_text())
        out += ["", "## 4. Verdicts per requirement", "",
                "Worst first: FAIL, ERROR, INCONCLUSIVE, PASS, NOT APPLICABLE (NOT RUN: no "
                "scenario ran). *interpretation*: the verdict rests on our reading "
                "(section 7).", "",
                "| requirement | title | verdict | scenarios | evidence / reason |",
                "|---|---|---|---|---|"]
        for req, row in self.table.items():
            mark = " *interpretation*" if req in self.interpretations else ""
            out.append(f"| [{req}](#{req.lower()}){mark} | {_md(REQUIREMENTS.get(req, ''))} | "
                       f"**{row['verdict']}** | {counts_text(row['scenarios'])} | "
                       f"{_md(self.detail(row))} |")
        out += ["", "## 5. Requirements in detail", ""]
        for req, row in self.table.items():
            out += [f"### {req}", "", f"{REQUIREMENTS.get(req, '')}: **{row['verdict']}**", ""]
            if req in self.interpretations:
                item = self.interpretations[req]
                out += [f"> *Interpretation*: {item['reading']}. Source: {item['source']}. "
                        f"Switch: `{item['switch']}` = `{item['value']}`.", ""]
            scenarios = self.scenarios_of(req)
            if scenarios:
                out += ["| scenario | role | verdict | capture | evidence / reason |",
                        "|---|---|---|---|---|"]
                out += [f"| {_md(r.name)} | {r.role or '-'} | {r.verdict} | {_md(capture_of(r))} "
                        f"| {_md(scenario_detail(r))} |" for r in scenarios]
            else:
                out.append("No scenario of this requirement ran.")
            figure = self.figures.get(req)
            if figure:
                out += ["", f"![{figure_caption(figure)}]({figure})"]
            out.append("")
        out += self.markdown_tables()
        return "\n".join(out) + "\n"

    def markdown_tables(self) -> list[str]:
        dut = self.run["dut"]
        out = ["## 6. PICS and PIXIT", "", "| PICS | value |", "|---|---|"]
        out += [f"| {k} | {_md(v)} |" for k, v in dut["pics"].items()]
        out += ["", "| PIXIT | value |", "|---|---|"]
        out += [f"| {k} | {_md(v)} |" for k, v in dut["pixit"].items()]
        out += ["", "## 7. Interpretations", "",
                "Where SECMP0007's documents leave detail open the suite states its "
                "reading; each is behind a DUT-description switch.", "",
                "| requirement | reading | source | switch | value here |",
                "|---|---|---|---|---|"]
        out += [f"| {i['requirement']} | {_md(i['reading'])} | {_md(i['source'])} | "
                f"`{i['switch']}` | `{i['value']}` |" for i in self.interpretations.values()]
        return out

    def run_facts(self) -> list[tuple[str, str]]:
        run = self.run
        target = run["target"]
        return [("suite", f"{run['suite']['name']} {run['suite']['version']}"),
                ("requirements", f"{run['suite']['requirements']} ({len(self.table)})"),
                ("target", f"{target['name']}: {target['description'] or '-'}"),
                ("target inputs", target["inputs"]),
                ("tshark (the decoder's oracle)", run["tshark"]),
                ("started (UTC)", run["started"]),
                ("duration", f"{run['elapsed_s']} s"),
                ("command", run["command"])]

    def no_evidence_text(self) -> str:
        return (f"No evidence file: the target ({self.run['target']['description'] or '-'}) "
                "kept none. A live run keeps no file; record it with `hanota capture` and "
                "replay the recording to hand it over.")

    # -- HTML -----------------------------------------------------------------------
    def html(self) -> str:
        run, device, chf = self.run, self.run["device"], self.run["chf"]
        body = [f"<h1>{TITLE}</h1>",
                f'<p class="lead"><b>{esc(side_name(device))}</b> (device) with '
                f"<b>{esc(side_name(chf))}</b> (Comms Hub); under test: {esc(tested_side(run))}."
                f"<br>Overall verdict: {badge(self.overall)} "
                f"({esc(self.requirement_counts())} of {len(self.table)} requirements; "
                f"{len(self.results)} scenarios)</p>",
                '<section id="dut"><h2>1. Device under test</h2>', self.html_identity(),
                "</section>",
                '<section id="run"><h2>2. The run</h2><dl class="facts">',
                *(f"<dt>{esc(k)}</dt><dd>{esc(v)}</dd>" for k, v in self.run_facts()),
                "</dl></section>",
                '<section id="evidence"><h2>3. Evidence files</h2>', self.html_evidence(),
                "</section>",
                '<section id="requirements"><h2>4. Verdicts per requirement</h2>',
                "<p class=\"muted\">Worst first: FAIL, ERROR, INCONCLUSIVE, PASS, NOT "
                "APPLICABLE (NOT RUN: no scenario ran). <span class=\"mark\">interpretation"
                "</span>: the verdict rests on our reading (section 7).</p>",
                self.html_requirement_table(), "</section>",
                '<section id="details"><h2>5. Requirements in detail</h2>',
                *self.html_details(), "</section>",
                '<section id="pics"><h2>6. PICS and PIXIT</h2>', self.html_pics(), "</section>",
                '<section id="interpretations"><h2>7. Interpretations</h2>',
                self.html_interpretations(), "</section>",
                f'<footer class="muted"><p>Written by {esc(run["suite"]["name"])} '
                f"{esc(run['suite']['version'])}; the same data: verdicts.json (key "
                "<code>run</code> and <code>scenarios</code>).</p></footer>"]
        return page(f"{TITLE}: {side_name(device)} with {side_name(chf)}", "\n".join(body))

    def html_identity(self) -> str:
        device, chf, dut = self.run["device"], self.run["chf"], self.run["dut"]
        rows = "".join(f"<tr><th>{esc(label)}</th><td>{esc(device.get(key, ''))}</td>"
                       f"<td>{esc(chf.get(key, ''))}</td></tr>" for key, label in IDENTITY_ROWS)
        tested = "".join(f"<td>{'yes' if side['under_test'] else 'no (reference)'}</td>"
                         for side in (device, chf))
        nodes = "".join(
            f"<tr><td>{esc(n['name'])}</td><td>{esc(n['kind'])}</td><td><code>{esc(n['eui64'])}"
            f"</code></td><td>{esc(n['short'])}</td><td>{esc(n['current_version'] or '-')}</td>"
            "</tr>" for n in dut["nodes"])
        return (f'<table id="identity"><tr><th></th><th>device</th><th>Comms Hub</th></tr>{rows}'
                f"<tr><th>under test</th>{tested}</tr></table>"
                f"<p>DUT description <code>{esc(dut['file']['path'])}</code>, SHA-256 "
                f"<code>{esc(dut['file']['sha256'])}</code>; role <code>{esc(dut['role'])}"
                f"</code>, DUT node <code>{esc(dut['node'])}</code>.</p>"
                '<table id="nodes"><tr><th>node</th><th>kind</th><th>EUI-64</th><th>short</th>'
                f"<th>CurrentFileVersion</th></tr>{nodes}</table>")

    def html_evidence(self) -> str:
        evidence = self.run["evidence"]
        if not evidence:
            return f"<p>{esc(self.no_evidence_text())}</p>"
        rows = "".join(
            f"<tr><td>{esc(e['file'])}</td><td><code>{esc(e['path'])}</code></td>"
            f"<td>{esc(_size(e))}</td>"
            f'<td class="hash">{esc(e["sha256"] or e.get("error", ""))}</td></tr>'
            for e in evidence)
        return ('<table id="evidence-files"><tr><th>file</th><th>path</th><th>bytes</th>'
                f"<th>SHA-256</th></tr>{rows}</table>")

    def html_requirement_table(self) -> str:
        rows = []
        for req, row in self.table.items():
            mark = (' <span class="mark">interpretation</span>'
                    if req in self.interpretations else "")
            rows.append(f'<tr data-requirement="{esc(req)}"><td><a href="#req-{esc(req)}">'
                        f"{esc(req)}</a>{mark}</td><td>{esc(REQUIREMENTS.get(req, ''))}</td>"
                        f"<td>{badge(row['verdict'])}</td>"
                        f"<td>{esc(counts_text(row['scenarios']))}</td>"
                        f"<td>{esc(self.detail(row))}</td></tr>")
        return ('<table id="requirement-table"><thead><tr><th>requirement</th><th>title</th>'
                "<th>verdict</th><th>scenarios</th><th>evidence / reason</th></tr></thead>"
                f"<tbody>{''.join(rows)}</tbody></table>")

    def html_details(self) -> list[str]:
        shown: dict[str, str] = {}
        parts = []
        for req, row in self.table.items():
            parts.append(f'<article id="req-{esc(req)}"><h3>{esc(req)}: '
                         f"{esc(REQUIREMENTS.get(req, ''))} {badge(row['verdict'])}</h3>")
            if req in self.interpretations:
                item = self.interpretations[req]
                parts.append(
                    f'<p class="interpretation"><span class="mark">Interpretation</span>: '
                    f"{esc(item['reading'])}. Source: {esc(item['source'])}. Switch: "
                    f"<code>{esc(item['switch'])}</code> = <code>{esc(item['value'])}</code>.</p>")
            parts.append(self.html_scenarios(req))
            parts.append(self.html_figure(req, shown))
            parts.append("</article>")
        return parts

    def html_scenarios(self, requirement: str) -> str:
        scenarios = self.scenarios_of(requirement)
        if not scenarios:
            return "<p>No scenario of this requirement ran.</p>"
        rows = []
        for r in scenarios:
            detail = esc(scenario_detail(r))
            if r.verdict != PASS and "\n" in r.reason.strip():
                detail += (f"<details><summary>the whole reason</summary><pre>{esc(r.reason)}"
                           "</pre></details>")
            rows.append(f"<tr><td>{esc(r.name)}</td><td>{esc(r.role or '-')}</td>"
                        f"<td>{badge(r.verdict)}</td><td>{esc(capture_of(r))}</td>"
                        f"<td>{detail}</td></tr>")
        return ('<table class="scenarios"><tr><th>scenario</th><th>role</th><th>verdict</th>'
                f"<th>capture</th><th>evidence / reason</th></tr>{''.join(rows)}</table>")

    def html_figure(self, requirement: str, shown: dict[str, str]) -> str:
        """The requirement's picture, embedded where it is first used; later uses link
        there (each picture is in the file once)."""
        figure = self.figures.get(requirement)
        if not figure:
            return ""
        if figure in shown:
            first = shown[figure]
            return (f'<p class="muted">Picture: {esc(figure_caption(figure))}, shown under '
                    f'<a href="#req-{esc(first)}">{esc(first)}</a>.</p>')
        path = self.out / figure
        try:
            data = path.read_bytes()
        except OSError:
            return f'<p class="muted">Picture {esc(figure)}: not found.</p>'
        shown[figure] = requirement
        caption = figure_caption(figure)
        return (f'<figure><img src="{data_uri(data, figure)}" alt="{esc(caption)}">'
                f"<figcaption>{esc(caption)} ({esc(figure)})</figcaption></figure>")

    def html_pics(self) -> str:
        dut = self.run["dut"]
        tables = []
        for name in ("pics", "pixit"):
            rows = "".join(f"<tr><td><code>{esc(k)}</code></td><td>{esc(v)}</td></tr>"
                           for k, v in dut[name].items())
            tables.append(f'<table id="{name}"><tr><th>{name.upper()}</th><th>value</th></tr>'
                          f"{rows}</table>")
        return "".join(tables)

    def html_interpretations(self) -> str:
        rows = "".join(
            f"<tr><td>{esc(i['requirement'])}</td><td>{esc(i['reading'])}</td>"
            f"<td>{esc(i['source'])}</td><td><code>{esc(i['switch'])}</code></td>"
            f"<td><code>{esc(i['value'])}</code></td></tr>" for i in self.interpretations.values())
        return ("<p>Where SECMP0007's documents leave detail open the suite states its "
                "reading; each is behind a DUT-description switch.</p>"
                '<table id="interpretation-table"><tr><th>requirement</th><th>reading</th>'
                f"<th>source</th><th>switch</th><th>value here</th></tr>{rows}</table>")


def _size(entry: dict[str, Any]) -> str:
    return "-" if entry.get("bytes") is None else str(entry["bytes"])


def _md(value: object) -> str:
    """A value in a Markdown table cell."""
    return str(value).replace("|", "/").replace("\n", " ")


def write_statement(out: Path, run: dict[str, Any],
                    results: list[ScenarioVerdict]) -> tuple[Path, Path]:
    """Write ``conformance.html`` and ``conformance.md`` into ``out``; returns both."""
    statement = Statement(run, results, out)
    html_path, md_path = out / HTML_NAME, out / MD_NAME
    html_path.write_text(statement.html(), encoding="utf-8")
    md_path.write_text(statement.markdown(), encoding="utf-8")
    return html_path, md_path
