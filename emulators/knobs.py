"""The imperfections of a real HAN and of a real sniffer, each a seeded knob, all off by
default.

Why knobs and not new exchanges: a test house's capture differs from the emulator's
perfect one in ways that cut across every exchange (a sniffer that misses frames, a
router in the path, a device that rejoins with a new address). Each knob applies to any
exchange, so ``make conformance`` (knobs off) keeps its reference captures byte for
byte, and a campaign turns one knob at a time on the same exchanges.

``SnifferOptions`` changes only what the capture holds, never what the nodes do: the
sniffer draws from its own random generator, so the HAN's frames are the same with and
without it. ``HanOptions`` changes the HAN itself: ``variants`` is a set of names that
``hanota.emulators._build`` and the node logic read (``Han.has_variant``); a new variant is a
name added to ``VARIANTS`` and an ``if han.has_variant(...)`` where it acts.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

FCS_WITH = "with"  # link type 195, every record ends with the FCS (the default)
FCS_STRIPPED = "stripped"  # link type 195, FCS dropped: captured length = original - 2
FCS_NONE = "none"  # link type 230: the frames without FCS, as the link type says
FCS_MODES = (FCS_WITH, FCS_STRIPPED, FCS_NONE)

VARIANTS: dict[str, str] = {
    "routed": "the HCALCS reaches the CHF through the PPMID acting as router, the PPMID "
              "through a repeater (the DUT's first node of kind 'router', else an unlisted "
              "one): NWK security per hop, every hop on the air",
    "rejoin": "the device under test resets mid-download (the upgrade-lossy reset, or one "
              "at 40 % of any other download) and rejoins with a new short address: "
              "Device_annce, then Query Next Image Request again, resuming from FileOffset",
    "self-scheduled": "PPMID and HCALCS send Query Next Image Request on their own schedule "
                      "(before any image, during none of a download, after the upgrade)",
    "broadcast-notify": "the CHF sends Image Notify by broadcast, payload type 0, "
                        "QueryJitter 100 (every client answers)",
    "page-request": "the OTA clients download with Image Page Request (a page of Image "
                    "Block Responses at the response spacing); pair with PICS "
                    "image_page_request = true",
    "aps-encrypted": "every OTA cluster frame of the CHF and the clients is APS-secured "
                     "with the link key (key id 0, extended nonce), Smart Energy practice",
    "rogue-unlisted": "the rogue CAD of the rogue-cad exchange is a node the DUT description "
                      "does not list (built-in EUI-64 00DB12345678CAD0, short 0x7CAD)",
    "rogue-spoofs-chf": "the rogue CAD sends with the Comms Hub's short address as MAC and "
                        "NWK source, securing with its own EUI-64 as a real node would",
}
ROUTED_NWK_SRC64 = 0.5  # the routed variant's share of frames with the NWK extended source


@dataclass(frozen=True)
class SnifferOptions:
    """What the capture misses or mangles, independently of what the nodes received.

    miss: probability that the sniffer does not hear a frame (data or ACK);
    corrupt: probability that a heard frame is written with bit errors (bad FCS);
    fcs: FCS_WITH, FCS_STRIPPED (195, captured = original - 2) or FCS_NONE (230);
    start_s / stop_s: virtual time (s) at which the capture begins / ends;
    seed: the sniffer's own random seed (None: derived from the run's seed).
    """

    miss: float = 0.0
    corrupt: float = 0.0
    fcs: str = FCS_WITH
    start_s: float = 0.0
    stop_s: float | None = None
    seed: int | None = None

    def __post_init__(self) -> None:
        for name in ("miss", "corrupt"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"sniffer {name} must be within 0..1, got {value}")
        if self.fcs not in FCS_MODES:
            raise ValueError(f"sniffer fcs: one of {', '.join(FCS_MODES)}, got {self.fcs!r}")
        if self.start_s < 0 or (self.stop_s is not None and self.stop_s < self.start_s):
            raise ValueError(f"sniffer window {self.start_s}..{self.stop_s} is empty")

    @property
    def perfect(self) -> bool:
        """Hears everything, writes it as sent: the capture is the air's."""
        return self == SnifferOptions(seed=self.seed)

    def describe(self) -> str:
        parts = []
        if self.miss:
            parts.append(f"misses {self.miss:.0%}")
        if self.corrupt:
            parts.append(f"corrupts {self.corrupt:.0%}")
        if self.fcs != FCS_WITH:
            parts.append(f"FCS {self.fcs}")
        if self.start_s:
            parts.append(f"from {self.start_s:g} s")
        if self.stop_s is not None:
            parts.append(f"until {self.stop_s:g} s")
        return "sniffer " + ", ".join(parts) if parts else ""


@dataclass(frozen=True)
class HanOptions:
    """How the HAN departs from the single-hop, fixed-address, notify-driven ideal.

    variants: names of ``VARIANTS``;
    nwk_src64: share of originated frames with the NWK extended source (the originator's
    EUI-64 in the NWK header); None: ROUTED_NWK_SRC64 in the routed variant, else 0;
    query_period_s: the self-scheduled variant's Query Next Image period;
    page_size: bytes a page-request client asks per Image Page Request.
    """

    variants: frozenset[str] = field(default_factory=frozenset)
    nwk_src64: float | None = None
    query_period_s: float = 60.0
    page_size: int = 512

    def __post_init__(self) -> None:
        unknown = sorted(set(self.variants) - set(VARIANTS))
        if unknown:
            raise ValueError(f"unknown HAN variant(s) {', '.join(unknown)}; known: "
                             f"{', '.join(VARIANTS)}")
        if self.nwk_src64 is not None and not 0.0 <= self.nwk_src64 <= 1.0:
            raise ValueError(f"nwk_src64 must be within 0..1, got {self.nwk_src64}")
        if self.query_period_s <= 0 or self.page_size <= 0:
            raise ValueError("query_period_s and page_size must be positive")

    @property
    def src64_share(self) -> float:
        if self.nwk_src64 is not None:
            return self.nwk_src64
        return ROUTED_NWK_SRC64 if "routed" in self.variants else 0.0

    def describe(self) -> str:
        parts = [f"variant {name}" for name in sorted(self.variants)]
        if self.nwk_src64 is not None:
            parts.append(f"NWK extended source on {self.nwk_src64:.0%}")
        return ", ".join(parts)


def variant_names(values: Iterable[str] | None) -> frozenset[str]:
    """``--han-variant`` values, each possibly comma-separated, as a set of names."""
    return frozenset(name.strip() for value in values or () for name in value.split(",")
                     if name.strip())


# The command-line knobs, shared by ``hanota emulate`` and the suite's ``--target
# emulator`` (pytest options take the same flags and keywords as argparse).
CLI_OPTIONS: tuple[tuple[str, dict[str, Any]], ...] = (
    ("--sniffer-miss", {"type": float, "default": 0.0, "metavar": "P",
                        "help": "probability the sniffer misses a frame (0..1)"}),
    ("--sniffer-corrupt", {"type": float, "default": 0.0, "metavar": "P",
                           "help": "probability a captured frame has bit errors (bad FCS)"}),
    ("--sniffer-fcs", {"default": FCS_WITH, "choices": FCS_MODES,
                       "help": "with: link type 195 (default); stripped: 195 with every "
                       "record 2 bytes shorter than the frame; none: link type 230"}),
    ("--sniffer-start", {"type": float, "default": 0.0, "metavar": "S",
                         "help": "virtual second at which the capture begins"}),
    ("--sniffer-stop", {"type": float, "default": None, "metavar": "S",
                        "help": "virtual second at which the capture ends"}),
    ("--sniffer-seed", {"type": int, "default": None, "metavar": "N",
                        "help": "the sniffer's own seed (default: from --seed)"}),
    ("--han-variant", {"action": "append", "default": None, "metavar": "NAME",
                       "help": "HAN variant, repeatable or comma-separated: "
                       + ", ".join(VARIANTS)}),
    ("--nwk-ext-source", {"type": float, "default": None, "metavar": "P",
                          "help": "share of frames carrying the originator's EUI-64 in "
                          "the NWK header (default: 0.5 when routed, else 0)"}),
    ("--query-period", {"type": float, "default": 60.0, "metavar": "S",
                        "help": "self-scheduled variant: seconds between queries"}),
    ("--page-size", {"type": int, "default": 512, "metavar": "BYTES",
                     "help": "page-request variant: bytes per Image Page Request"}),
)


def add_cli_options(add: Callable[..., Any]) -> None:
    """Declare the knobs with ``add`` (argparse's add_argument or pytest's addoption)."""
    for flag, keywords in CLI_OPTIONS:
        add(flag, **keywords)


def from_cli(get: Callable[[str], Any]) -> tuple[SnifferOptions, HanOptions]:
    """The knobs from parsed options; ``get(dest)`` reads one (``sniffer_miss`` ...)."""
    sniffer = SnifferOptions(miss=get("sniffer_miss"), corrupt=get("sniffer_corrupt"),
                             fcs=get("sniffer_fcs"), start_s=get("sniffer_start"),
                             stop_s=get("sniffer_stop"), seed=get("sniffer_seed"))
    han = HanOptions(variants=variant_names(get("han_variant")),
                     nwk_src64=get("nwk_ext_source"), query_period_s=get("query_period"),
                     page_size=get("page_size"))
    return sniffer, han


def namespace_getter(namespace: argparse.Namespace) -> Callable[[str], Any]:
    return lambda name: getattr(namespace, name)
