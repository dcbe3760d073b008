"""What a target is: something that hands the suite a Trace for a situation.

Why a registry: the suite picks its target by name (``--target emulator|pcap|...``) and a
new target (the live sniffer) registers itself without the plugin changing. Every target
returns the same ``hanota.verify.trace.Trace``, so each scenario is written once.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from hanota.dut.description import Dut
from hanota.dut.situations import Situation
from hanota.layers.gbcs import load_certificate_pem
from hanota.layers.security import KeyRing
from hanota.layers.wireshark_keys import with_keys
from hanota.verify.trace import Trace


@dataclass(frozen=True)
class TargetOptions:
    """Everything a target may need, from the command line."""

    dut: Dut
    dut_path: Path | None = None
    profile: str | None = None
    capture: Path | None = None
    capture_set: Path | None = None
    alerts: Path | None = None
    certificate: Path | None = None
    seed: int = 0
    out_dir: Path = Path("out")
    extra: dict[str, Any] = field(default_factory=dict)
    keys: tuple[bytes, ...] = ()
    """Keys beyond the DUT description's (``--keys-file``): tried in both roles."""


class Target(Protocol):
    """A source of traces. ``name`` is the registry key; ``description`` goes in reports."""

    name: str

    @property
    def description(self) -> str: ...

    def trace(self, situation: Situation) -> Trace:
        """The trace in which the scenario's ``situation`` is judged; raises
        ``SituationNotRecorded`` when the target has nothing of it."""
        ...

    def evidence_files(self) -> list[Path]:
        """The files this target judged so far (captures, WAN messages), in the order it
        read them: the conformance statement lists each with its SHA-256, so a reviewer
        can tell that the verdicts rest on the very files handed over. A target that
        keeps no file (a live source not recorded) returns none."""
        ...


class SituationNotRecorded(LookupError):
    """The target holds no capture of a situation (a capture set without it): the
    scenario is INCONCLUSIVE with this message, never judged on another capture."""


TargetFactory = Callable[[TargetOptions], Target]
TARGETS: dict[str, TargetFactory] = {}
TARGET_MODULES = ["hanota.targets.emulator", "hanota.targets.replay", "hanota.targets.live"]
"""Modules whose import registers a target; a new target appends its module here."""


def register_target(name: str) -> Callable[[TargetFactory], TargetFactory]:
    """Class or function decorator adding a target factory under ``name``."""

    def add(factory: TargetFactory) -> TargetFactory:
        TARGETS[name] = factory
        return factory

    return add


def make_target(name: str, options: TargetOptions) -> Target:
    """Build the named target; importing the known target modules registers them."""
    for module in TARGET_MODULES:
        importlib.import_module(module)
    try:
        factory = TARGETS[name]
    except KeyError:
        known = ", ".join(sorted(TARGETS))
        raise ValueError(f"unknown target {name!r}; known: {known}") from None
    return factory(options)


def evidence_files(target: object) -> list[Path]:
    """``target.evidence_files()``, or none for a target registered from outside the
    project that predates the hook."""
    files = getattr(target, "evidence_files", None)
    return list(files()) if callable(files) else []


def dut_keys(dut: Dut, extra: Iterable[bytes] = ()) -> KeyRing:
    """The keys the DUT description gives (the network key and the link keys), then
    ``extra`` keys (a Wireshark key table) in both roles."""
    return with_keys(KeyRing((dut.network_key,), tuple(dut.link_keys)), extra)


def load_certificate(path: Path | None) -> Any:
    """The CHF's signing certificate (PEM) to check GBCS signatures with, or None."""
    if path is None:
        return None
    return load_certificate_pem(Path(path).read_bytes())
