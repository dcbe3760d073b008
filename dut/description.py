"""The DUT description (PICS + PIXIT) of one run, read from TOML.

Shared by the emulators (which build the HAN it describes) and by verify/targets (which
need its addresses, keys and claims to judge a trace), so it lives outside both.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

ROLES = ("device", "chf", "both")
# "router": a mains-powered repeater that only relays (the emulator's routed variant uses
# the first one listed, or an unlisted one of its own when the description has none).
NODE_KINDS = ("chf", "ppmid", "hcalcs", "ihd", "cad", "router")
DEVICE_KINDS = ("ppmid", "hcalcs")
NOT_STATED = "not stated"
IDENTITY_KEYS = ("manufacturer", "model", "firmware_version", "hardware_version")


class DutError(ValueError):
    """A DUT description that cannot be used: names the key at fault."""


@dataclass(frozen=True)
class Node:
    """One HAN node: its identity on the air and, for OTA clients, what it runs."""

    name: str
    kind: str
    eui64: str
    short: int
    endpoint: int = 1
    manufacturer_code: int = 0
    image_type: int = 0
    current_version: int = 0
    hardware_version: int | None = None
    stack_version: int = 0x0002


@dataclass(frozen=True)
class Image:
    """An image the supplier delivers to the CHF for one target node."""

    name: str
    target: str
    file_version: int
    size: int | None = None
    file: Path | None = None
    min_hardware_version: int | None = None
    max_hardware_version: int | None = None
    # A synthetic image whose integrity code (tag 0x0003) is deliberately wrong (ACT-3).
    corrupt: bool = False


@dataclass(frozen=True)
class Pics:
    """Options the implementation under test claims (scenarios needing others are N/A).

    Every option defaults to "not claimed": a DUT description that says nothing claims
    nothing, so no scenario is judged against an option the implementation never stated.
    """

    hardware_version_sent: bool = False
    image_page_request: bool = False
    downgrade_accepted: bool = False
    version_event: bool = False
    large_image_process: bool = False
    cad_update_path: bool = False


@dataclass(frozen=True)
class Pixit:
    """Values the tests need: timings, sizes and identifiers."""

    readback_timeout_s: float = 30.0
    query_jitter: int = 50
    minimum_block_period_ms: int = 250
    maximum_data_size: int = 64
    image_store_limit: int = 786432
    evidence_timeout_s: float = 900.0
    supplier_id: str = "90B3D51F30000002"
    second_supplier_id: str = "90B3D51F30000003"
    # NOTIFY-3 (interpretation): a unicast Image Notify to a device that is not the
    # target of a held image wastes HAN bandwidth (NOTIFY-4's reason) and FAILs.
    notify_non_target_fails: bool = True
    # VER-3 (interpretation): the CCS08 response codes an outcome may carry, by outcome
    # (success, hardware-mismatch, invalid-image, abandoned); unset: the feature's reading.
    ccs08_response_codes: dict[str, list[int]] = field(default_factory=dict)
    # CONC-2: who requested each device's update, node -> supplier identifier or the name
    # of a PIXIT key holding one; unset: the PPMID by supplier_id, the HCALCS by
    # second_supplier_id.
    requesters: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Identity:
    """A product as the test house names it on a conformance statement and in the device
    x Comms Hub matrix: what a supplier can look up, which the air does not tell (the
    EUI-64 names one unit, not its model or its firmware build). Text, as the
    manufacturer writes it; a key left out says so ("not stated")."""

    manufacturer: str = NOT_STATED
    model: str = NOT_STATED
    firmware_version: str = NOT_STATED
    hardware_version: str = NOT_STATED


@dataclass(frozen=True)
class Dut:
    """A whole description: who is under test, the network, the nodes, images, PICS, PIXIT.

    ``identity`` is the ``[dut]`` table's identity keys: the product under test (the
    device for roles ``device`` and ``both``, the Comms Hub for role ``chf``); ``peer``
    is ``[dut.peer]``: the other side of the pair (the reference Comms Hub, the reference
    device, or for role ``both`` the Comms Hub).
    """

    role: str
    dut_node: str
    pan_id: int
    channel: int
    network_key: bytes
    network_key_seq: int
    link_keys: tuple[bytes, ...]
    nodes: dict[str, Node]
    images: dict[str, Image]
    pics: Pics = field(default_factory=Pics)
    pixit: Pixit = field(default_factory=Pixit)
    identity: Identity = field(default_factory=Identity)
    peer: Identity = field(default_factory=Identity)

    @property
    def device_identity(self) -> Identity:
        """The device side's identity (of node ``dut_node``), whichever side is tested."""
        return self.peer if self.role == "chf" else self.identity

    @property
    def chf_identity(self) -> Identity:
        """The Comms Hub side's identity (of node ``chf``), whichever side is tested."""
        return self.identity if self.role == "chf" else self.peer

    @property
    def chf(self) -> Node:
        """The Comms Hub: the only node a device may take firmware from."""
        return next(node for node in self.nodes.values() if node.kind == "chf")

    @property
    def dut(self) -> Node:
        return self.nodes[self.dut_node]

    def requesters(self) -> dict[str, str]:
        """Device node -> the identifier of the supplier that requested its update
        (PIXIT ``requesters``, a name of a PIXIT key or an identifier, with the default
        reading: the first PPMID by ``supplier_id``, the first HCALCS by
        ``second_supplier_id``)."""
        named = dict(self.pixit.requesters)
        if not named:
            for kind, key in (("ppmid", "supplier_id"), ("hcalcs", "second_supplier_id")):
                node = next((n for n in self.nodes.values() if n.kind == kind), None)
                if node is not None:
                    named[node.name] = key
        return {node: str(getattr(self.pixit, who, who)).upper() for node, who in named.items()}

    def node_by_short(self, short: int) -> Node | None:
        return next((node for node in self.nodes.values() if node.short == short), None)

    def node_by_eui64(self, eui64: str) -> Node | None:
        wanted = eui64.upper()
        return next((node for node in self.nodes.values() if node.eui64 == wanted), None)


def _key(value: Any, where: str) -> bytes:
    try:
        key = bytes.fromhex(str(value))
    except ValueError as error:
        raise DutError(f"{where}: not hex ({error})") from error
    if len(key) != 16:
        raise DutError(f"{where}: a key has 16 bytes, this one {len(key)}")
    return key


def _eui64(value: Any, where: str) -> str:
    text = str(value).replace(":", "").replace("-", "").upper()
    if len(text) != 16 or any(c not in "0123456789ABCDEF" for c in text):
        raise DutError(f"{where}: an EUI-64 is 16 hex digits, got {value!r}")
    return text


def _node(name: str, table: dict[str, Any]) -> Node:
    kind = table.get("kind")
    if kind not in NODE_KINDS:
        raise DutError(f"nodes.{name}.kind: one of {', '.join(NODE_KINDS)}, got {kind!r}")
    values = {k: v for k, v in table.items() if k not in ("kind", "eui64")}
    try:
        return Node(name=name, kind=kind, eui64=_eui64(table.get("eui64"), f"nodes.{name}.eui64"),
                    **values)
    except TypeError as error:
        raise DutError(f"nodes.{name}: {error}") from error


def _image(name: str, table: dict[str, Any], base: Path | None) -> Image:
    values = dict(table)
    if "file" in values:
        path = Path(values["file"])
        values["file"] = path if path.is_absolute() or base is None else base / path
    if values.get("size") is None and values.get("file") is None:
        raise DutError(f"images.{name}: give `size` (synthetic image) or `file`")
    try:
        return Image(name=name, **values)
    except TypeError as error:
        raise DutError(f"images.{name}: {error}") from error


def _identity(table: dict[str, Any], where: str, *, strict: bool) -> Identity:
    """The identity keys of a table; ``strict`` refuses any other key (``[dut.peer]``
    holds nothing else, while ``[dut]`` also holds the role and the node)."""
    values = {}
    for key, value in table.items():
        if key not in IDENTITY_KEYS:
            if strict:
                raise DutError(f"[{where}]: unknown key {key!r}; the identity keys are "
                               f"{', '.join(IDENTITY_KEYS)}")
            continue
        if not isinstance(value, str) or not value.strip():
            raise DutError(f"{where}.{key}: text, as the manufacturer writes it (e.g. "
                           f"\"1.2.4\" or \"0x01020400\"), got {value!r}")
        values[key] = value.strip()
    return Identity(**values)


def _section(cls: type, table: dict[str, Any], where: str) -> Any:
    try:
        return cls(**table)
    except TypeError as error:
        raise DutError(f"[{where}]: {error}") from error


def parse_dut(text: str, *, base: Path | None = None) -> Dut:
    """Build a Dut from TOML text; ``base`` resolves relative image file paths."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise DutError(f"not TOML: {error}") from error
    head, network = data.get("dut", {}), data.get("network", {})
    nodes = {name: _node(name, table) for name, table in data.get("nodes", {}).items()}
    images = {name: _image(name, table, base) for name, table in data.get("images", {}).items()}
    role, dut_node = head.get("role"), head.get("node")
    peer = head.get("peer", {})
    if not isinstance(peer, dict):
        raise DutError("dut.peer: a table ([dut.peer]) of identity keys")
    if role not in ROLES:
        raise DutError(f"dut.role: one of {', '.join(ROLES)}, got {role!r}")
    if dut_node not in nodes:
        raise DutError(f"dut.node: {dut_node!r} is not a node of [nodes]")
    if sum(node.kind == "chf" for node in nodes.values()) != 1:
        raise DutError("nodes: exactly one node of kind 'chf' is needed")
    for image in images.values():
        if image.target not in nodes:
            raise DutError(f"images.{image.name}.target: {image.target!r} is not a node")
    return Dut(
        role=role,
        dut_node=dut_node,
        pan_id=int(network.get("pan_id", 0)),
        channel=int(network.get("channel", 11)),
        network_key=_key(network.get("network_key"), "network.network_key"),
        network_key_seq=int(network.get("network_key_seq", 0)),
        link_keys=tuple(
            _key(key, f"network.link_keys[{i}]")
            for i, key in enumerate(network.get("link_keys", []))
        ),
        nodes=nodes,
        images=images,
        pics=_section(Pics, data.get("pics", {}), "pics"),
        pixit=_section(Pixit, data.get("pixit", {}), "pixit"),
        identity=_identity({k: v for k, v in head.items() if k != "peer"}, "dut",
                           strict=False),
        peer=_identity(peer, "dut.peer", strict=True),
    )


def load_dut(path: Path | None = None) -> Dut:
    """Read a DUT file; without a path, the emulated HAN's default description."""
    if path is None:
        text = resources.files("hanota.dut").joinpath("default_dut.toml").read_text()
        return parse_dut(text)
    return parse_dut(Path(path).read_text(), base=Path(path).parent)
