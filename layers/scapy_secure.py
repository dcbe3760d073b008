"""Secure a scapy-built ZigBee frame with the DUT's keys: how a test house crafts stimulus.

A user builds a frame the scapy way::

    Dot15d4FCS(...)/Dot15d4Data(...)/ZigbeeNWK(...)/ZigbeeAppDataPayload(...)
        /ZclOta(...)/ZCLOtaImageNotify(...)

and ``secure`` turns it into the bytes a real node would put on the air: NWK security
(auxiliary header with frame counter, source EUI-64 and key sequence number; payload
encrypted and a 4-byte MIC, CCM* at level 5 with level 0 on the air, as
``hanota.layers.security`` computes it for the emulator), optionally APS security under it, and
the FCS recomputed. Every header bit the user set is kept as built: only the security
bits are set and the aux headers inserted, so a deliberately odd frame stays odd.

The bytes then go where any frame goes: ``to_pcapng`` (link type 195), or
``hanota.layers.capture_zep.zep_encode`` / ``hanota.emulators.zep_out.ZepSender`` as ZEP.

Why scapy is not asked to encrypt: its ZigbeeSecurityHeader holds an encrypted payload
but cannot produce one; the suite's one CCM* implementation (checked against tshark)
does it for both the emulator and this path.
"""

from __future__ import annotations

from collections.abc import Iterable

from hanota.layers.capture import pcapng_header, pcapng_packet
from hanota.layers.codec import FCS_LENGTH, MAX_PHY_PAYLOAD, crc16_kermit
from hanota.layers.model import Security
from hanota.layers.security import KEY_ID_LINK, KEY_ID_NETWORK, KeyRing, encrypt_layer
from scapy.layers.dot15d4 import Dot15d4FCS
from scapy.layers.zigbee import ZigbeeAppDataPayload, ZigbeeNWK, ZigbeeSecurityHeader
from scapy.packet import NoPayload, Packet, Raw

LINKTYPE_IEEE802_15_4_WITHFCS = 195
NWK_SECURITY_BIT = 0x02  # in the second byte of the NWK frame control
APS_SECURITY_BIT = 0x20  # in the APS frame control byte


def _present(layer: Packet) -> Packet | None:
    return None if isinstance(layer, NoPayload) else layer


def _split(layer: Packet) -> tuple[bytes, bytes]:
    """(header, payload) bytes of a layer as scapy builds it."""
    whole = bytes(layer)
    payload = _present(layer.payload)
    tail = bytes(payload) if payload is not None else b""
    return whole[: len(whole) - len(tail)], tail


def _plaintext_after(nwk: Packet) -> tuple[bytes, Packet | None]:
    """What NWK security encrypts, and the layer it starts with (None for raw bytes).

    The NWK payload as built; a ZigbeeSecurityHeader the user put above the NWK header is
    dropped (``secure`` reads its fields): its data and whatever is stacked on it are the
    plaintext.
    """
    above = _present(nwk.payload)
    if isinstance(above, ZigbeeSecurityHeader):
        rest = _present(above.payload)
        data = bytes(above.data or b"") + (bytes(rest) if rest is not None else b"")
        return data, None if isinstance(rest, Raw) or above.data else rest
    if above is None:
        return b"", None
    return bytes(above), None if isinstance(above, Raw) else above


def _secure_aps(
    aps: Packet, keys: KeyRing, source64: str, frame_counter: int, key_id: int
) -> bytes:
    header, payload = _split(aps)
    header = bytes((header[0] | APS_SECURITY_BIT,)) + header[1:]
    security = Security(key_id, frame_counter, source64)
    return encrypt_layer(header, security, source64, keys.aps_key(key_id), payload)


def secure(
    packet: Packet,
    keys: KeyRing,
    *,
    source64: str | None = None,
    frame_counter: int | None = None,
    key_seq: int | None = None,
    aps_frame_counter: int | None = None,
    aps_key_id: int = KEY_ID_LINK,
) -> bytes:
    """The PSDU of ``packet`` with NWK security applied (and APS security first when
    ``aps_frame_counter`` is given), FCS recomputed when ``packet`` is a ``Dot15d4FCS``.

    ``source64`` (the securing node's EUI-64, 16 hex digits, written in the NWK aux
    header: a real node puts its own there even when it spoofs a short address),
    ``frame_counter`` and ``key_seq`` default to the fields of a ``ZigbeeSecurityHeader``
    stacked on the NWK header, then to the NWK header's extended source (source64) and 0
    (key_seq); a frame counter must be given one way or the other. The network key is the
    first of ``keys``; APS security uses ``aps_key_id`` (0 link key, 2 key-transport,
    3 key-load, derived from the first link key) with the aux header carrying source64.
    """
    nwk = packet.getlayer(ZigbeeNWK)
    if nwk is None:
        raise ValueError("secure() needs a ZigbeeNWK layer: NWK security is what it applies")
    header = _split(nwk)[0]
    plaintext, inner = _plaintext_after(nwk)
    aux = nwk.payload if isinstance(nwk.payload, ZigbeeSecurityHeader) else None
    if aux is not None:
        frame_counter = aux.fc if frame_counter is None else frame_counter
        key_seq = aux.getfieldval("key_seqnum") if key_seq is None else key_seq
        if source64 is None and aux.getfieldval("extended_nonce"):
            source64 = f"{aux.source:016X}"
    if source64 is None and nwk.getfieldval("flags") & 0x10:
        source64 = f"{nwk.ext_src:016X}"
    if source64 is None or frame_counter is None:
        raise ValueError("secure() needs source64 and frame_counter (arguments, or a "
                         "ZigbeeSecurityHeader above the NWK header)")
    if aps_frame_counter is not None:
        if not isinstance(inner, ZigbeeAppDataPayload):
            raise ValueError("APS security asked for, but no ZigbeeAppDataPayload follows")
        plaintext = _secure_aps(inner, keys, source64, aps_frame_counter, aps_key_id)
    header = header[:1] + bytes((header[1] | NWK_SECURITY_BIT,)) + header[2:]
    security = Security(KEY_ID_NETWORK, frame_counter, source64, key_seq or 0)
    secured = encrypt_layer(header, security, source64, keys.network_key(), plaintext)
    built = bytes(packet)
    with_fcs = isinstance(packet, Dot15d4FCS)
    mac_end = len(built) - (FCS_LENGTH if with_fcs else 0) - len(bytes(nwk))
    psdu = built[:mac_end] + secured
    if len(psdu) + FCS_LENGTH > MAX_PHY_PAYLOAD:
        raise ValueError(f"secured frame of {len(psdu) + FCS_LENGTH} bytes exceeds the "
                         f"{MAX_PHY_PAYLOAD}-byte PHY payload")
    return psdu + crc16_kermit(psdu).to_bytes(2, "little") if with_fcs else psdu


def to_pcapng(frames: Iterable[tuple[float, bytes]]) -> bytes:
    """A pcapng capture (link type 195: each PSDU with its FCS) of (UNIX time, PSDU)."""
    out = bytearray(pcapng_header(LINKTYPE_IEEE802_15_4_WITHFCS))
    for time, psdu in frames:
        out += pcapng_packet(time, psdu)
    return bytes(out)
