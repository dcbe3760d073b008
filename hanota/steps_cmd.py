"""``hanota steps``: the step vocabulary a ``.feature`` file can use, as Markdown.

Why a command: a test house with the installed suite (no checkout, no docs/) writes its
own scenarios for ``hanota run --features DIR`` from this; ``make steps-doc`` writes the
same text to docs/steps.md.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", type=Path, help="write the Markdown to this file "
                        "(default: standard output)")


def run(args: argparse.Namespace) -> int:
    from hanota.steps.vocabulary import vocabulary_markdown

    text = vocabulary_markdown()
    if args.out is None:
        print(text, end="")
    else:
        args.out.write_text(text)
    return 0
