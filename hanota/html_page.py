"""The frame of the pages a test house hands over (the conformance statement, the matrix).

Why plain HTML with its style inline and no script: the page is evidence that travels by
e-mail and sits in archives; it must open from disk in any browser, years later, with no
network and nothing to execute. Pictures go in as ``data:`` URIs.
"""

from __future__ import annotations

import base64
import html

from hanota.verify.verdicts import ERROR, FAIL, INCONCLUSIVE, NOT_APPLICABLE, PASS

VERDICT_CLASS = {PASS: "pass", FAIL: "fail", ERROR: "error", INCONCLUSIVE: "inconclusive",
                 NOT_APPLICABLE: "na", "NOT RUN": "notrun"}

STYLE = """
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
       margin: 0 auto; max-width: 1200px; padding: 1em 2em 3em; color: #1d2330; }
h1 { font-size: 1.6em; margin-bottom: .2em; }
h2 { border-bottom: 2px solid #d5dae3; padding-bottom: .2em; margin-top: 2em; }
h3 { margin: 1.6em 0 .4em; }
table { border-collapse: collapse; margin: .5em 0 1em; width: 100%; }
th, td { border: 1px solid #d5dae3; padding: .3em .5em; text-align: left;
         vertical-align: top; }
th { background: #f0f2f6; }
td.hash, code { font-family: ui-monospace, "DejaVu Sans Mono", monospace; font-size: .9em;
                word-break: break-all; }
.verdict { display: inline-block; border-radius: 3px; padding: 0 .45em; font-weight: 600;
           white-space: nowrap; }
.pass { background: #d8f0dc; color: #125c23; }
.fail { background: #f9d6d5; color: #8a1410; }
.error { background: #f6d5ec; color: #6d1455; }
.inconclusive { background: #fcefcf; color: #6b4b00; }
.na, .notrun { background: #e6e8ec; color: #464c57; }
.interpretation { border-left: 4px solid #b48400; background: #fff8e6; padding: .4em .8em;
                  margin: .4em 0; }
.mark { color: #8a6400; font-weight: 600; }
.muted { color: #5d6573; }
figure { margin: .6em 0; }
figure img { max-width: 100%; border: 1px solid #d5dae3; }
figcaption { color: #5d6573; font-size: .9em; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: .2em 1em; }
dl.facts dt { font-weight: 600; }
dl.facts dd { margin: 0; }
details summary { cursor: pointer; color: #2a4f8a; }
pre { white-space: pre-wrap; font-size: .85em; background: #f6f7f9; padding: .5em; }
"""


def esc(value: object) -> str:
    return html.escape(str(value), quote=True)


def badge(verdict: str) -> str:
    return f'<span class="verdict {VERDICT_CLASS.get(verdict, "notrun")}">{esc(verdict)}</span>'


def data_uri(data: bytes, name: str) -> str:
    """A picture as a ``data:`` URI, its type from its name (``.svg`` or ``.png``)."""
    kind = "image/svg+xml" if name.endswith(".svg") else "image/png"
    return f"data:{kind};base64,{base64.b64encode(data).decode('ascii')}"


def page(title: str, body: str) -> str:
    """A whole document: nothing outside it is loaded, nothing in it runs."""
    return ("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
            f"<title>{esc(title)}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n"
            f"{body}\n</body>\n</html>\n")
