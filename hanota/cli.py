"""The ``hanota`` console command: one module per subcommand, imported only when used.

Each subcommand module defines ``add_arguments(parser)`` and ``run(args) -> int``; one
that sets ``PASSES_UNKNOWN_OPTIONS`` gets the options it does not define in
``args.passed_on`` (``hanota run`` hands them to pytest). Importing lazily keeps
``hanota decode`` from paying for the emulator or pytest.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from importlib import metadata

SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "decode": ("hanota.decode_cmd", "decode a capture (pcap/pcapng/ZEP), decrypting with keys"),
    "gbcs": ("hanota.gbcs_cmd", "decode a GBCS message (0xDF / 0xDD) and check its signature"),
    "emulate": ("hanota.emulate_cmd", "run one exchange on the emulated HAN, write the capture"),
    "capture": ("hanota.capture_cmd", "record a live source (ZEP or pcap stream) to pcapng"),
    "run": ("hanota.run_cmd", "run the conformance suite (pytest options pass through)"),
    "steps": ("hanota.steps_cmd", "print the step vocabulary a .feature file can use"),
    "situations": ("hanota.situations_cmd",
                   "the situations to record for a DUT, and a capture-set template"),
    "matrix": ("hanota.matrix_cmd", "merge runs' verdicts.json into the device x Comms Hub matrix"),
}


def version() -> str:
    try:
        return metadata.version("hanota")
    except metadata.PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown (not installed)"


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(prog="hanota", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"hanota {version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, (_, summary) in SUBCOMMANDS.items():
        sub.add_parser(name, help=summary, add_help=False)
    if not argv or argv[0] not in SUBCOMMANDS:
        parser.parse_args(argv)
        return 2
    module = importlib.import_module(SUBCOMMANDS[argv[0]][0])
    command_parser = argparse.ArgumentParser(
        prog=f"hanota {argv[0]}", description=SUBCOMMANDS[argv[0]][1],
        epilog=getattr(module, "EPILOG", None),
        allow_abbrev=not getattr(module, "PASSES_UNKNOWN_OPTIONS", False),
    )
    module.add_arguments(command_parser)
    if getattr(module, "PASSES_UNKNOWN_OPTIONS", False):
        args, passed_on = command_parser.parse_known_args(argv[1:])
        args.passed_on = passed_on
    else:
        args = command_parser.parse_args(argv[1:])
    return int(module.run(args))


if __name__ == "__main__":
    sys.exit(main())
