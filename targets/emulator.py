"""The EMULATOR target (default): each exchange run once on the emulated HAN, then judged
from its capture bytes.

Why through a file: the run writes ``out/captures/<exchange>[-<profile>].pcapng`` and the
GBCS messages as hex beside it, and the trace is decoded back through ``hanota.targets.pcap``,
the same path as a replay. The suite therefore judges bytes, never emulator objects, and
every emulated run leaves a capture a test house can open in Wireshark or replay.

Which images the supplier delivered in each exchange is test set-up (the contract's
exchange list), stated here from the DUT description, not read from the emulator.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path

from hanota.dut.description import Dut, Image
from hanota.dut.situations import Situation
from hanota.emulators import (
    PROFILES,
    SCENARIOS,
    EmulationResult,
    HanOptions,
    SnifferOptions,
    emulate,
)
from hanota.emulators.wan import chf_certificate
from hanota.targets.base import TargetOptions, load_certificate, register_target
from hanota.targets.replay import load_trace, write_gbcs_hex
from hanota.verify.trace import Trace

XDIST_RUN_ID = "PYTEST_XDIST_TESTRUNUID"
"""Set by pytest-xdist in its workers, the same in every worker of one run: an exchange
one worker has run is not run again by another (see ``EmulatorTarget._run``)."""

ImagePick = Callable[[Dut, Image], bool]


def _named(name: str) -> ImagePick:
    return lambda dut, image: image.name == name


def _excludes_hardware(dut: Dut, image: Image) -> bool:
    hardware = dut.nodes[image.target].hardware_version or 0
    low, high = image.min_hardware_version, image.max_hardware_version
    return (low is not None and hardware < low) or (high is not None and hardware > high)


def _lower_version(dut: Dut, image: Image) -> bool:
    return image.file_version < dut.nodes[image.target].current_version


# exchange -> (target node kind, which of its images) delivered by the supplier; the
# first image matching each pick is held. IHD images are refused, so never held.
DELIVERIES: dict[str, tuple[tuple[str, ImagePick], ...]] = {
    "upgrade": (("ppmid", _named("ppmid")),),
    "upgrade-large": (("ppmid", _named("ppmid-large")),),
    "upgrade-hw-mismatch": (("ppmid", _excludes_hardware),),
    "upgrade-no-hw-version": (("ppmid", _named("ppmid")),),
    "upgrade-invalid-image": (("ppmid", lambda dut, image: image.corrupt),),
    "upgrade-lossy": (("ppmid", _named("ppmid")),),
    "upgrade-abandoned": (("ppmid", _named("ppmid")),),
    "downgrade": (("ppmid", _lower_version),),
    "read-version": (),
    "rogue-cad": (("ppmid", _named("ppmid")),),
    "ihd-refused": (),
    "two-devices": (("ppmid", _named("ppmid")), ("hcalcs", lambda dut, image: True)),
    "version-event": (("ppmid", _named("ppmid")),),
}


def delivered_images(dut: Dut, exchange: str) -> list[Image]:
    """The images the supplier delivered to the CHF in ``exchange``."""
    held = []
    for kind, pick in DELIVERIES[exchange]:
        candidates = [image for image in dut.images.values()
                      if dut.nodes[image.target].kind == kind and pick(dut, image)]
        held += candidates[:1]
    return held


def profile_nodes(dut: Dut, profile: str | None) -> dict[str, str]:
    """The node a fault profile applies to: device profiles to the DUT's device node,
    CHF profiles to the CHF."""
    if profile is None:
        return {}
    if profile not in PROFILES:
        raise ValueError(f"unknown fault profile {profile!r}; known: {', '.join(PROFILES)}")
    side = PROFILES[profile].side
    return {(dut.chf.name if side == "chf" else dut.dut_node): profile}


@register_target("emulator")
class EmulatorTarget:
    """Runs each exchange once per session (cached) and judges its capture."""

    name = "emulator"

    def __init__(self, options: TargetOptions) -> None:
        self.options = options
        self.profiles = profile_nodes(options.dut, options.profile)
        # The imperfection knobs (hanota.emulators.knobs; --sniffer-* and --han-variant ...).
        self.sniffer: SnifferOptions = options.extra.get("sniffer") or SnifferOptions()
        self.han: HanOptions = options.extra.get("han") or HanOptions()
        self.captures = Path(options.out_dir) / "captures"
        self._traces: dict[str, Trace] = {}
        self.runs: dict[str, dict[str, float]] = {}

    @property
    def description(self) -> str:
        knobs = [f"profile {self.options.profile}"] if self.options.profile else []
        knobs += [text for text in (self.han.describe(), self.sniffer.describe()) if text]
        return f"emulated HAN (seed {self.options.seed}{''.join(', ' + k for k in knobs)})"

    def capture_path(self, exchange: str) -> Path:
        suffix = f"-{self.options.profile}" if self.options.profile else ""
        return self.captures / f"{exchange}{suffix}.pcapng"

    def evidence_files(self) -> list[Path]:
        """The capture and GBCS file of every exchange run so far, in run order."""
        captures = [self.capture_path(exchange) for exchange in self._traces]
        return [path for capture in captures
                for path in (capture, capture.with_suffix(".gbcs.hex"))]

    def trace(self, situation: Situation) -> Trace:
        """The capture of the emulator's run of ``situation`` (its exchange), run once."""
        exchange = situation.exchange
        if exchange not in SCENARIOS:
            raise ValueError(f"unknown exchange {exchange!r}; known: {', '.join(SCENARIOS)}")
        if exchange not in self._traces:
            self._traces[exchange] = self._run(exchange)
        return self._traces[exchange]

    def _run(self, exchange: str) -> Trace:
        dut = self.options.dut
        capture = self.capture_path(exchange)
        alerts = capture.with_suffix(".gbcs.hex")
        capture.parent.mkdir(parents=True, exist_ok=True)
        started = time.perf_counter()
        run_id = os.environ.get(XDIST_RUN_ID)
        with _exclusive(capture.with_name(f".{capture.name}.lock")) if run_id \
                else nullcontext():
            stamp = capture.with_name(f".{capture.name}.run")
            shared = (run_id is not None and stamp.is_file() and stamp.read_text() == run_id
                      and capture.is_file() and alerts.is_file())
            result = None if shared else self._emulate(exchange, capture, alerts)
            if run_id is not None and not shared:
                stamp.write_text(run_id)
        emulated = time.perf_counter() - started
        certificate = (load_certificate(self.options.certificate) if self.options.certificate
                       else chf_certificate())  # the emulated CHF's own, from its package
        trace = load_trace(dut, capture, alerts, certificate=certificate,
                           held_images=delivered_images(dut, exchange),
                           source=f"{self.description}: {capture}", keys=self.options.keys)
        self.runs[exchange] = {
            "frames": len(trace.frames) if result is None else result.frames,
            "virtual_s": 0.0 if result is None else result.virtual_seconds,
            "emulate_s": emulated, "decode_s": time.perf_counter() - started - emulated,
            "shared": float(result is None)}
        return trace

    def _emulate(self, exchange: str, capture: Path, alerts: Path) -> EmulationResult:
        """Run the exchange, writing its capture and GBCS file aside, then renaming them:
        no reader ever opens a half-written file."""
        partial = capture.with_name(f".{capture.name}.{os.getpid()}")
        with partial.open("wb") as stream:
            result = emulate(self.options.dut, exchange, stream, profiles=self.profiles,
                             seed=self.options.seed, sniffer=self.sniffer, options=self.han)
        partial_alerts = alerts.with_name(f".{alerts.name}.{os.getpid()}")
        write_gbcs_hex(partial_alerts,
                       [(message.time, message.data) for message in result.wan])
        os.replace(partial, capture)
        os.replace(partial_alerts, alerts)
        return result


@contextmanager
def _exclusive(lock: Path) -> Iterator[None]:
    """Hold an exclusive lock on the file ``lock`` while inside (POSIX ``flock``; where
    there is none, no lock: each worker then runs the exchange itself)."""
    try:
        import fcntl
    except ImportError:
        yield
        return
    with lock.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
