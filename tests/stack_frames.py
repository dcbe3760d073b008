"""Sample frames of the ZigBee stack under ZCL, for the codec, dissector and tshark tests.

Each is built by the project's own encoder (``build_frame``) from a ``HanFrame``: NWK
commands (ZigBee R22 3.4), APS commands (R22 4.4.11), ZDO (R22 2.4), the NWK header's
source route, multicast and extended fields (R22 3.3.1), APS group addressing and
fragmentation (R22 2.2.5.1), inter-PAN (Smart Energy 1.4 annex B). Keys: the test
network key, the ZigBee default trust-centre link key (``ZigBeeAlliance09``) and the
install-code key of oracles.md.
"""

from __future__ import annotations

from typing import Any

from hanota.layers.codec import build_frame
from hanota.layers.model import (
    Aps,
    Fragment,
    HanFrame,
    Mac,
    Multicast,
    Nwk,
    Security,
    SourceRoute,
    StackCommand,
)
from hanota.layers.security import DEFAULT_TC_LINK_KEY, KeyRing
from hanota.layers.stack import make_command
from hanota.layers.zcl import make_zcl
from ota_frames import CHF_EUI64, DEVICE_EUI64, NETWORK_KEY_HEX, PAN_ID

NETWORK_KEY = bytes.fromhex(NETWORK_KEY_HEX)
NEXT_NETWORK_KEY = bytes.fromhex("F0F1F2F3F4F5F6F7F8F9FAFBFCFDFEFF")
TC_EUI64 = CHF_EUI64  # the Comms Hub is the trust centre
ROUTER_EUI64 = "00DB1234567890C4"
ROUTER_SHORT = 0x7A10
DEVICE_SHORT = 0x4C21
TC_SHORT = 0x0000
# What the encoder secures with: the network key, and the default TC link key as the
# link key (APS key ids 0/2/3 derive from it).
BUILD_KEYS = KeyRing((NETWORK_KEY,), (DEFAULT_TC_LINK_KEY,))
WIRESHARK_DEFAULT_LINK_KEY = DEFAULT_TC_LINK_KEY.hex().upper()


def _mac(seq: int, dst16: int, src16: int, *, ack: bool = True) -> Mac:
    return Mac(1, seq, PAN_ID, dst16, src16, ack and dst16 < 0xFFF8)


def _nwk(dst16: int, src16: int, seq: int, source64: str | None, frame_type: int = 0,
         **extra: Any) -> Nwk:
    security = Security(1, 2000 + seq, source64, 0) if source64 else None
    return Nwk(dst16, src16, seq, 30, frame_type, security=security, **extra)


def nwk_command(seq: int, name: str, fields: dict[str, Any], dst16: int = 0xFFFC,
                src16: int = TC_SHORT, source64: str | None = TC_EUI64) -> HanFrame:
    """A NWK command (R22 3.4), NWK-secured when ``source64`` is given."""
    return HanFrame(_mac(seq, 0xFFFF if dst16 >= 0xFFF8 else dst16, src16),
                    _nwk(dst16, src16, seq, source64, frame_type=1),
                    nwk_command=make_command("nwk", name, fields))


def aps_command(seq: int, name: str, fields: dict[str, Any], *, dst16: int = DEVICE_SHORT,
                src16: int = TC_SHORT, key_id: int | None = 2, nwk_secured: bool = True,
                source64: str = TC_EUI64) -> HanFrame:
    """An APS command (R22 4.4.11): no cluster, profile or endpoints. APS-secured with
    ``key_id`` (2: key-transport key of the default TC link key) when not None."""
    security = Security(key_id, 500 + seq, source64) if key_id is not None else None
    return HanFrame(
        _mac(seq, dst16, src16),
        _nwk(dst16, src16, seq, source64 if nwk_secured else None),
        Aps(None, None, None, None, seq, frame_type=1, security=security),
        aps_command=make_command("aps", name, fields),
    )


def transport_network_key(seq: int, key: bytes = NETWORK_KEY, key_seq: int = 0,
                          nwk_secured: bool = False) -> HanFrame:
    """The trust centre sends the network key to a joining device (R22 4.4.11.1), the
    APS payload secured with the key-transport key of ``ZigBeeAlliance09``."""
    fields = {"key_type": 1, "key": key, "key_seq": key_seq, "destination": DEVICE_EUI64,
              "source": TC_EUI64}
    return aps_command(seq, "transport_key", fields, nwk_secured=nwk_secured)


def zdo_frame(seq: int, name: str, fields: dict[str, Any], *, dst16: int = 0xFFFD,
              src16: int = DEVICE_SHORT, source64: str = DEVICE_EUI64) -> HanFrame:
    """A ZDO message on endpoint 0 (profile 0x0000), NWK-secured."""
    zdo = make_command("zdo", name, {"transaction_seq": seq, **fields})
    return HanFrame(
        _mac(seq, 0xFFFF if dst16 >= 0xFFF8 else dst16, src16),
        _nwk(dst16, src16, seq, source64),
        Aps(zdo.command_id, 0x0000, 0, 0, seq),
        zdo=zdo,
    )


def device_annce(seq: int, short: int = DEVICE_SHORT, eui64: str = DEVICE_EUI64) -> HanFrame:
    """Device_annce (R22 2.4.3.1.11): a (re)joined device says its short address."""
    return zdo_frame(seq, "device_annce", {"nwk_address": short, "ieee_address": eui64,
                                           "capability": 0x8E}, src16=short, source64=eui64)


def ota_notify(seq: int, **nwk_extra: Any) -> tuple[Mac, Nwk, Aps, Any]:
    """The layers of an Image Notify from the CHF to the device, to vary."""
    return (
        _mac(seq, DEVICE_SHORT, TC_SHORT),
        _nwk(DEVICE_SHORT, TC_SHORT, seq, TC_EUI64, **nwk_extra),
        Aps(0x0019, 0x0109, 1, 1, seq),
        make_zcl("image_notify", {"payload_type": 0, "query_jitter": 100}, seq),
    )


def relayed_block_request(seq: int, *, with_src64: bool) -> HanFrame:
    """The device's Image Block Request as the router relays it to the CHF: MAC source
    the router, NWK source the device, NWK aux header secured by the router (per-hop
    security, R22 4.3.1); the originator's EUI-64 in the NWK header when ``with_src64``."""
    fields = {"field_control": 0, "manufacturer_code": 0x1234, "image_type": 0x0101,
              "file_version": 0x01020304, "file_offset": 64, "maximum_data_size": 48}
    return HanFrame(
        _mac(seq, TC_SHORT, ROUTER_SHORT),
        Nwk(TC_SHORT, DEVICE_SHORT, seq, 29, 0, None, DEVICE_EUI64 if with_src64 else None,
            Security(1, 9000 + seq, ROUTER_EUI64, 0)),
        Aps(0x0019, 0x0109, 1, 1, seq),
        make_zcl("image_block_request", fields, seq),
    )


def source_routed(seq: int) -> HanFrame:
    """The CHF's Image Notify source-routed through two relays (R22 3.3.1.8)."""
    mac, nwk, aps, zcl = ota_notify(seq, source_route=SourceRoute(1, (ROUTER_SHORT, 0x3301)))
    return HanFrame(mac, nwk, aps, zcl)


def multicast_group(seq: int) -> HanFrame:
    """A group-addressed ZCL command (APS delivery mode 3) sent as NWK multicast."""
    mac = _mac(seq, 0xFFFF, TC_SHORT)
    nwk = _nwk(0x0101, TC_SHORT, seq, TC_EUI64, multicast=Multicast(1, 1, 7))
    aps = Aps(0x0006, 0x0104, None, 1, seq, group=0x0101)
    return HanFrame(mac, nwk, aps, make_zcl("unknown_0x01", {"payload": b""}, seq,
                                            cluster=0x0006))


def inter_pan(seq: int) -> HanFrame:
    """An inter-PAN ZCL frame (NWK frame type 3, stub NWK header, inter-PAN APS
    header: cluster and profile only; Smart Energy 1.4 annex B)."""
    mac = Mac(1, seq, PAN_ID, 0xFFFF, None, False, None, DEVICE_EUI64)
    nwk = Nwk(None, None, None, None, 3)
    aps = Aps(0x0700, 0x0109, None, None, None, frame_type=3)
    zcl = make_zcl("unknown_0x00", {"payload": b"\x00"}, seq, cluster=0x0700)
    return HanFrame(mac, nwk, aps, zcl)


def fragments(seq: int, payload: bytes, block: int) -> list[HanFrame]:
    """One APS frame in blocks of ``block`` bytes (R22 2.2.8.4.5): extended header,
    first block says how many blocks follow, the same APS counter on every block."""
    parts = [payload[i : i + block] for i in range(0, len(payload), block)]
    frames = []
    for index, part in enumerate(parts):
        fragment = Fragment(1, len(parts), None, part) if index == 0 else Fragment(2, index,
                                                                                   None, part)
        frames.append(HanFrame(
            _mac(seq + index, TC_SHORT, DEVICE_SHORT),
            _nwk(TC_SHORT, DEVICE_SHORT, seq + index, DEVICE_EUI64),
            Aps(0x0019, 0x0109, 1, 1, seq, fragment=fragment),
        ))
    return frames


def build(frame: HanFrame, keys: KeyRing = BUILD_KEYS) -> bytes:
    return build_frame(frame, keys)


def stack_command(layer: str, name: str, fields: dict[str, Any]) -> StackCommand:
    return make_command(layer, name, fields)


def tunnel(seq: int, key: bytes = NETWORK_KEY, key_seq: int = 0) -> HanFrame:
    """The trust centre tunnels a Transport Key for a device joining through a router
    (R22 4.4.11.8): an APS Tunnel command to the router, NWK-secured, carrying the
    device's APS frame as sent (its APS header, aux header, encrypted command and MIC)."""
    inner = build(transport_network_key(seq, key, key_seq))
    tunneled = inner[9 + 8 : -2]  # past the MAC (9 bytes) and NWK (8 bytes) headers
    return aps_command(seq, "tunnel", {"destination": DEVICE_EUI64, "tunneled_frame": tunneled},
                       dst16=ROUTER_SHORT, key_id=None)
