"""``hanota emulate``: run one exchange on the emulated HAN, write its capture and the
GBCS messages that crossed the WAN.

Why a command: test houses and the suite's own CI need reference captures of every
exchange, conformant or under a named fault, reproducible from a seed.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from pathlib import Path

from hanota.dut.description import DutError, load_dut


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dut", type=Path, help="DUT description (default: the emulated HAN)")
    parser.add_argument("--profile", action="append", default=[], metavar="NODE=PROFILE",
                        help="run NODE with a fault profile (repeatable)")
    parser.add_argument("--scenario", help="exchange to run (see --list)")
    parser.add_argument("--out", type=Path, help="pcapng capture to write")
    parser.add_argument("--alerts", type=Path, metavar="DIR",
                        help="write each GBCS message as NN-<kind>-<msgcode>.hex in DIR")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--loss", type=float, help="frame loss probability (0..1)")
    parser.add_argument("--list", action="store_true", help="list exchanges and profiles")
    parser.add_argument("--zep", metavar="HOST:PORT",
                        help="also stream every frame as ZEP v2 to HOST:PORT (a live target)")
    parser.add_argument("--speed", type=float, default=None,
                        help="with --zep: virtual seconds per wall second (default: unpaced)")
    parser.add_argument("--duis-post", metavar="URL",
                        help="after the run, POST each GBCS message as DUIS XML to URL "
                        "(a live target's --wan-source)")
    from hanota.emulators.knobs import add_cli_options

    knobs = parser.add_argument_group("imperfections (seeded, all off by default)")
    add_cli_options(knobs.add_argument)


def _list() -> int:
    from hanota.emulators import PROFILES, SCENARIOS, VARIANTS

    print("exchanges:")
    for name, description in SCENARIOS.items():
        print(f"  {name:24} {description}")
    print("HAN variants (--han-variant NAME):")
    for name, description in VARIANTS.items():
        print(f"  {name:24} {description}")
    print("fault profiles (NODE=PROFILE):")
    for profile in PROFILES.values():
        print(f"  {profile.name:24} {profile.side:6} {profile.requirement:9} "
              f"{profile.description}")
    return 0


def _profiles(pairs: list[str]) -> dict[str, str]:
    profiles = {}
    for pair in pairs:
        node, separator, profile = pair.partition("=")
        if not separator or not node or not profile:
            raise ValueError(f"--profile {pair!r}: expected NODE=PROFILE")
        profiles[node] = profile
    return profiles


def run(args: argparse.Namespace) -> int:
    if args.list:
        return _list()
    if not args.scenario or not args.out:
        print("hanota emulate: --scenario and --out are required (or --list)", file=sys.stderr)
        return 2
    from hanota.emulators import emulate
    from hanota.emulators.knobs import from_cli, namespace_getter
    from hanota.layers.gbcs import decode_gbcs
    from hanota.targets.replay import write_gbcs_hex

    try:
        dut = load_dut(args.dut)
        profiles = _profiles(args.profile)
        sniffer, options = from_cli(namespace_getter(args))
        with open(args.out, "wb") as capture, contextlib.ExitStack() as stack:
            sender = None
            if args.zep:
                from hanota.emulators.zep_out import ZepSender, zep_address

                sender = stack.enter_context(ZepSender(
                    *zep_address(args.zep), speed=args.speed, channel=dut.channel))
            result = emulate(dut, args.scenario, capture, profiles=profiles, seed=args.seed,
                             loss=args.loss, on_frame=sender, sniffer=sniffer,
                             options=options)
    except (DutError, ValueError, OSError) as error:
        print(f"hanota emulate: {error}", file=sys.stderr)
        return 2
    heard = "" if result.captured < 0 else f" ({result.captured} captured)"
    print(f"{result.scenario}: {result.frames} frames{heard}, {result.virtual_seconds:.1f} s "
          f"virtual, {len(result.wan)} GBCS messages -> {args.out}")
    if args.duis_post:
        from hanota.emulators.duis_post import post_duis

        try:
            posted = post_duis(args.duis_post, result.wan)
        except ValueError as error:
            print(f"hanota emulate: {error}", file=sys.stderr)
            return 1
        print(f"  {len(posted)} DUIS messages posted to {args.duis_post}")
    if args.alerts is not None:
        args.alerts.mkdir(parents=True, exist_ok=True)
        for number, message in enumerate(result.wan, start=1):
            code = decode_gbcs(message.data).apdu.message_code
            path = args.alerts / f"{number:02d}-{message.kind}-{code:04X}.hex"
            write_gbcs_hex(path, [(message.time, message.data)])  # timed: rule 5 of verify
            print(f"  {path.name}: {message.kind} {message.sender} -> {message.recipient}")
    return 0
