"""The stateful decoder of one capture, fed frame by frame, as Wireshark's ZigBee
dissector is: what an earlier frame taught is used on the later ones.

Why a state at all: a capture is a conversation. A join sends the network key in an
APS Transport-Key command, secured with a link key every device knows (the ZigBee
default ``ZigBeeAlliance09``) or derived from an install code; once learnt, the key
decrypts every later frame (R22 4.6.3). The NWK aux header's key sequence number picks
among the keys learnt; APS Switch Key says which one is active. Device_annce and
first-hop frames teach which EUI-64 owns a short address (the nonce of APS frames
whose aux header leaves it out). APS fragments are reassembled into the frame they
carry. A MAC retry repeats a frame byte for byte: it is marked, not counted twice.

Smart Energy link keys made by CBKE (certificate-based key establishment) are never
sent on the air, so no capture can teach them: they come from the DUT description or a
keys file.

No I/O here: the capture target feeds records in and reads the decoded frames back.
"""

from __future__ import annotations

import dataclasses
import struct
from functools import lru_cache
from typing import NamedTuple

from cryptography.hazmat.primitives.ciphers import Cipher, CipherContext, algorithms, modes
from hanota.layers.codec import dissect_frame, pan_ids_present
from hanota.layers.model import DecodeError, FrameRecord, HanFrame, StackCommand
from hanota.layers.security import (
    DEFAULT_TC_LINK_KEY,
    EXTENDED_NONCE,
    KEY_ID_NETWORK,
    KeyRing,
    derived_aps_key,
)
from hanota.layers.stack import (
    KEY_TYPE_APPLICATION_LINK,
    KEY_TYPE_NETWORK,
    KEY_TYPE_TRUST_CENTER_LINK,
    decode_zdo,
)
from hanota.layers.zcl import decode_zcl

# A MAC retry follows its original after macAckWaitDuration (54 symbols, 0.86 ms at
# 2.4 GHz) plus a CSMA-CA backoff (up to 2^5-1 periods of 0.32 ms, up to 5 times), at
# most macMaxFrameRetries = 3 times: well under 0.1 s in all. The window is generous
# (0.5 s) because sniffer timestamps jitter and some stacks retry from software; it
# cannot mark a new frame wrongly, since a new frame never repeats the bytes of one sent
# 0.5 s before (the MAC sequence number and, secured, the frame counter change).
RETRY_WINDOW = 0.5
_MAY_TEACH = object()
# The end of CCM*'s counter block A1 (R22 A.2, RFC 3610) after the nonce's security
# control byte, by the byte as sent: level 5 patched in, then counter 1.
_NONCE_TAIL = tuple(bytes((control | 5, 0, 1)) for control in range(256))
_REASSEMBLIES_KEPT = 64  # fragmented frames in progress at once
_LINK_KEY_TYPES = (KEY_TYPE_APPLICATION_LINK, KEY_TYPE_TRUST_CENTER_LINK)


class LearntKey(NamedTuple):
    """A key the capture taught: in frame ``number``, by a Transport Key command (or a
    Tunnel carrying one). ``role`` is "network" or "link"; ``key_seq`` for a network key;
    ``device`` is the EUI-64 the key was sent to (a link key's partner)."""

    number: int
    role: str
    key: bytes
    key_seq: int | None = None
    device: str | None = None


class _LastFrame:
    """The last frame seen from one MAC source: a MAC sends one frame at a time and
    retries it before sending the next, so a retry always repeats the source's last."""

    __slots__ = ("original", "raw", "time")

    def __init__(self, raw: bytes, original: int, time: float) -> None:
        self.raw = raw
        self.original = original  # frame number of the first copy
        self.time = time


class _Reassembly:
    """The blocks of one fragmented APS frame seen so far."""

    __slots__ = ("blocks", "total")

    def __init__(self) -> None:
        self.total: int | None = None
        self.blocks: dict[int, tuple[bytes, int]] = {}  # index -> (data, frame number)


class Dissection(NamedTuple):
    """One frame as the capture's decoder sees it (see ``FrameRecord`` for the fields)."""

    han: HanFrame
    retransmission_of: int | None = None
    fragments: tuple[int, ...] = ()


@lru_cache(maxsize=64)
def _block_cipher(key: bytes) -> CipherContext:
    """One AES-ECB context per key: each ``update`` of a 16-byte block encrypts it (the
    context keeps no chaining state), and building one costs more than a block."""
    return Cipher(algorithms.AES(key), modes.ECB()).encryptor()


class Dissector:
    """Decoder of one capture's frames, in capture order (one instance per capture).

    It is also the ``KeySource`` the frame codec asks for keys: the configured keys, the
    keys learnt so far and, unless ``default_link_key`` is False, the ZigBee default
    trust-centre link key.
    """

    def __init__(
        self, keys: KeyRing | None = None, *, default_link_key: bool = True,
        retry_window: float = RETRY_WINDOW,
    ) -> None:
        configured = keys or KeyRing()
        self._configured_network = list(configured.network_keys)
        self._configured_link = list(configured.link_keys)
        self._default_link = [DEFAULT_TC_LINK_KEY] if default_link_key else []
        self._network_by_seq: dict[int, bytes] = {}
        self._learnt_link: list[bytes] = []
        self.learnt: list[LearntKey] = []
        self.active_key_seq: int | None = None
        self.switches: list[tuple[int, int]] = []  # (frame number, key seq) of Switch Key
        self.addresses: dict[int, str] = {}  # short address -> EUI-64
        self.retry_window = retry_window
        self._last_frame: dict[int | str, _LastFrame] = {}  # MAC source -> its last frame
        self._eui_text: dict[bytes, str] = {}
        self._known_air: dict[int, bytes] = {}  # what _known confirmed, until it changes
        self._reassemblies: dict[tuple[int | None, int | None], _Reassembly] = {}
        self._rebuild()

    # ---- KeySource ----------------------------------------------------------------------

    def _rebuild(self) -> None:
        """Candidate lists, computed when the keys change, not per frame. A frame whose
        key sequence number names no learnt key tries the key Switch Key made active
        first, then the configured keys, then the others learnt, newest first."""
        learnt = list(reversed(self._network_by_seq.values()))
        active = self._network_by_seq.get(self.active_key_seq)  # type: ignore[arg-type]
        first = [active] if active is not None else []
        everything = list(dict.fromkeys(first + self._configured_network + learnt))
        self._nwk_default = tuple(everything)
        self._nwk_by_seq = {
            seq: tuple(dict.fromkeys([key, *everything]))
            for seq, key in self._network_by_seq.items()
        }
        links = list(dict.fromkeys(
            self._configured_link + self._learnt_link[::-1] + self._default_link
        ))
        self._aps_by_id = {
            key_id: tuple(dict.fromkeys(derived_aps_key(key, key_id) for key in links))
            for key_id in (0, 2, 3)
        }
        self._aps_by_id[KEY_ID_NETWORK] = self._nwk_default
        self._probe_default = tuple(_block_cipher(key) for key in self._nwk_default)
        self._probe_by_seq = {seq: tuple(_block_cipher(key) for key in keys)
                              for seq, keys in self._nwk_by_seq.items()}

    def nwk_candidates(self, key_seq: int | None) -> tuple[bytes, ...]:
        """The key learnt with this sequence number first, then every other."""
        return self._nwk_by_seq.get(key_seq, self._nwk_default)  # type: ignore[arg-type]

    def aps_candidates(self, key_id: int) -> tuple[bytes, ...]:
        return self._aps_by_id.get(key_id, ())

    def address64(self, short: int | None) -> str | None:
        return self.addresses.get(short) if short is not None else None  # type: ignore[arg-type]

    # ---- frames -------------------------------------------------------------------------

    def dissect(self, raw: bytes, *, fcs: bool = True, time: float = 0.0,
                number: int = 0) -> Dissection:
        """Decode one frame and learn from it. Raises DecodeError only for a frame too
        short to hold a MAC frame control (see ``dissect_frame``).

        A retransmission teaches nothing its original did not: it is decoded, marked,
        and not learnt from (a repeated APS block is not a new block). Neither is a
        frame whose MAC layer failed (bad FCS, over-long): its bytes are not trusted.
        """
        han, original, fragments = self._dissect(raw, fcs, time, number)
        return Dissection(han, original, fragments)

    def _dissect(self, raw: bytes, fcs: bool, time: float, number: int) -> tuple[
        HanFrame, int | None, tuple[int, ...]
    ]:
        han = dissect_frame(raw, self, fcs=fcs)
        mac = han.mac
        source = mac.src16 if mac.src16 is not None else mac.src64
        original = None if source is None else self._retry_original(source, raw, time, number)
        nwk = han.nwk
        if original is not None or nwk is None:
            return han, original, ()
        error = han.error
        if error is not None and error.layer == "mac":
            return han, None, ()
        src16 = nwk.src16
        if src16 is not None:
            security = nwk.security
            if security is not None and security.source64 is not None \
                    and mac.src16 == src16:
                self._learn_address(src16, security.source64)
            if nwk.src64 is not None:
                self._learn_address(src16, nwk.src64)
        aps = han.aps
        if error is None and aps is not None and (
            aps.fragment is not None or han.aps_command is not None or han.zdo is not None
        ):
            han, fragments = self._learn(han, number)
            return han, None, fragments
        return han, None, ()

    def feed(self, frame: FrameRecord) -> FrameRecord:
        """Decode ``frame.raw`` into ``frame`` (han, error, retransmission_of,
        fragments), keeping an error the capture layer already set."""
        try:
            han, original, fragments = self._dissect(frame.raw, frame.fcs, frame.time,
                                                     frame.number)
        except DecodeError as error:
            frame.error = frame.error or f"frame {frame.number}: {error}"
            return frame
        frame.han = han
        if han.error is not None and frame.error is None:
            frame.error = f"frame {frame.number}: {han.error}"
        if original is not None:
            frame.retransmission_of = original
        if fragments:
            frame.fragments = fragments
        return frame

    def observe(self, raw: bytes, fcs: bool = True, time: float = 0.0,
                number: int = 0) -> None:
        """Learn from a frame another process decodes: the state afterwards is the
        state ``dissect`` leaves, but frames that cannot change it (most of a transfer)
        are only looked at, not decoded. For a parallel decode, whose workers each
        decode a share of the records and must all know what every earlier one taught.
        """
        source = self._look(raw, fcs)
        if source is _MAY_TEACH:
            self._dissect(raw, fcs, time, number)
            return
        last = self._last_frame.get(source)  # type: ignore[arg-type]
        if last is not None and last.raw != raw:  # the common case, inline: a new frame
            last.raw, last.original, last.time = raw, number, time
        elif source is not None:
            self._retry_original(source, raw, time, number)  # type: ignore[arg-type]

    # ---- what frames teach --------------------------------------------------------------

    def _learn(self, han: HanFrame, number: int) -> tuple[HanFrame, tuple[int, ...]]:
        if han.aps_command is not None:
            self._learn_command(han.aps_command, number)
        elif han.zdo is not None:
            self._learn_zdo(han.zdo)
        aps = han.aps
        assert aps is not None
        if aps.fragment is not None and aps.fragment.fragmentation:
            return self._reassemble(han, number)
        return han, ()

    def _learn_address(self, short: int, eui64: str) -> None:
        if self.addresses.get(short) != eui64:
            self.addresses[short] = eui64
            self._known_air.pop(short, None)

    def _learn_command(self, command: StackCommand, number: int) -> None:
        fields = command.fields
        if command.name == "tunnel" and fields.get("tunneled_command") == "transport_key":
            self._learn_key(fields["tunneled_fields"], number)
        elif command.name == "transport_key":
            self._learn_key(fields, number)
        elif command.name == "switch_key":
            self.active_key_seq = fields["key_seq"]
            self.switches.append((number, fields["key_seq"]))
            self._rebuild()
        elif command.name == "update_device":
            self._learn_address(fields["device_short_address"], fields["device_address"])

    def _learn_key(self, fields: dict, number: int) -> None:
        key_type, key = fields.get("key_type"), fields.get("key")
        if key is None:
            return
        if key_type == KEY_TYPE_NETWORK:
            seq = fields["key_seq"]
            if self._network_by_seq.get(seq) == key:
                return
            self._network_by_seq.pop(seq, None)  # re-insert: newest last
            self._network_by_seq[seq] = key
            self.learnt.append(LearntKey(number, "network", key, seq, fields.get("destination")))
        elif key_type in _LINK_KEY_TYPES:
            if key in self._learnt_link:
                return
            self._learnt_link.append(key)
            device = fields.get("destination") or fields.get("partner")
            self.learnt.append(LearntKey(number, "link", key, None, device))
        else:
            return
        self._rebuild()

    def _learn_zdo(self, zdo: StackCommand) -> None:
        fields = zdo.fields
        if zdo.name == "device_annce" or (
            zdo.name in ("nwk_addr_rsp", "ieee_addr_rsp") and "nwk_address" in fields
        ):
            self._learn_address(fields["nwk_address"], fields["ieee_address"])

    # ---- APS fragmentation (R22 2.2.8.4.5) ----------------------------------------------

    def _reassemble(self, han: HanFrame, number: int) -> tuple[HanFrame, tuple[int, ...]]:
        """Keep this block; on the block that completes the frame, decode what the
        reassembled payload carries (ZCL or ZDO) into this frame."""
        nwk, aps = han.nwk, han.aps
        assert nwk is not None and aps is not None and aps.fragment is not None
        fragment = aps.fragment
        key = (nwk.src16, aps.counter)
        entry = self._reassemblies.get(key)
        if entry is None or fragment.index == 0:
            entry = _Reassembly()
            self._reassemblies.pop(key, None)
            self._reassemblies[key] = entry
            while len(self._reassemblies) > _REASSEMBLIES_KEPT:
                del self._reassemblies[next(iter(self._reassemblies))]
        if fragment.total is not None:
            entry.total = fragment.total
        assert fragment.index is not None
        entry.blocks.setdefault(fragment.index, (fragment.data, number))
        total = entry.total
        if total is None or any(index not in entry.blocks for index in range(total)):
            return han, ()
        del self._reassemblies[key]
        payload = b"".join(entry.blocks[index][0] for index in range(total))
        numbers = tuple(entry.blocks[index][1] for index in range(total))
        assert aps.cluster is not None
        try:
            if aps.dst_ep == 0:
                return dataclasses.replace(han, zdo=decode_zdo(aps.cluster, payload, 0)), numbers
            return dataclasses.replace(han, zcl=decode_zcl(payload, aps.cluster, 0)), numbers
        except DecodeError as error:
            where = DecodeError(error.layer, error.field, error.offset,
                                f"{error.reason} (offset in the reassembled APS payload)")
            return dataclasses.replace(han, error=where), numbers

    # ---- MAC retries --------------------------------------------------------------------

    def _retry_original(self, source: int | str, raw: bytes, time: float,
                        number: int) -> int | None:
        """Number of the first copy of the frame this one repeats byte for byte, from
        the same MAC ``source`` (short address or EUI-64) within the retry window of the
        previous copy, or None. Frames without a MAC source (acks) are never retries."""
        last = self._last_frame.get(source)
        if last is None:
            self._last_frame[source] = _LastFrame(raw, number, time)
            return None
        if last.raw == raw and 0 <= time - last.time <= self.retry_window:
            last.time = time
            return last.original
        last.raw, last.original, last.time = raw, number, time
        return None

    # ---- the parallel decoder's look-ahead ----------------------------------------------

    def _look(self, raw: bytes, fcs: bool) -> int | str | object | None:
        """``_MAY_TEACH`` when ``dissect`` could learn from ``raw``: an APS command, an APS
        fragment, a ZDO message, or a NWK header naming an EUI-64 not known yet for its
        short address; else the MAC source for the retry check (None: no source).

        Decides from the headers and, for a NWK-encrypted frame, from the first two
        payload bytes decrypted with CCM*'s counter-mode keystream (one AES block per
        key, no MIC check): a wrong guess only costs a full decode. Anything unusual is
        left to the full decoder. This runs on every frame another worker decodes, so
        the MAC header's layout is looked up by frame control, not worked out."""
        end = len(raw) - 2 if fcs else len(raw)
        if end < 9:
            return _mac_source(raw, fcs)
        mac_control = raw[0] | raw[1] << 8
        layout = _MAC_LAYOUTS.get(mac_control)
        if layout is None:
            layout = _mac_layout(mac_control)
        if layout is _MAY_TEACH or layout is None:
            return layout
        src_at, pos, src_mode = layout  # type: ignore[misc]
        if pos + 8 > end:
            return _MAY_TEACH
        shape = mac_control << 16 | raw[pos] | raw[pos + 1] << 8
        fast = _FAST_SHAPES.get(shape, _UNSEEN)
        if fast is _UNSEEN:
            fast = _fast_shape(shape, layout)  # type: ignore[arg-type]
        if fast is not None and end >= fast[1]:  # type: ignore[index]
            return self._look_fast(raw, fast)  # type: ignore[arg-type]
        if src_mode == 2:
            source: int | str | None = raw[src_at] | raw[src_at + 1] << 8
        elif src_mode == 3:
            source = self._text64(raw[src_at : src_at + 8])
        else:
            source = None
        plan = _NWK_PLANS.get(raw[pos] | raw[pos + 1] << 8)
        if plan is None:
            plan = _nwk_plan(raw[pos] | raw[pos + 1] << 8)
        if plan is _MAY_TEACH:
            return _MAY_TEACH  # inter-PAN or reserved frame type
        src64_at, after, routed, secured, command = plan  # type: ignore[misc]
        src16 = raw[pos + 4] | raw[pos + 5] << 8
        if src64_at:  # the NWK header names the originator's EUI-64
            at = pos + src64_at
            if at + 8 > end or not self._known(src16, raw[at : at + 8]):
                return _MAY_TEACH
        pos += after
        if routed:
            if pos + 2 > end:
                return _MAY_TEACH
            pos += 2 + 2 * raw[pos]
        if not secured:
            if not command and (pos + 2 > end or _aps_may_teach(raw[pos], raw[pos + 1])):
                return _MAY_TEACH
            return source
        payload_pos = pos + 14
        if payload_pos + 2 > end or not raw[pos] & EXTENDED_NONCE:
            return _MAY_TEACH
        if source == src16 and self._known_air.get(src16) != raw[pos + 5 : pos + 13] \
                and not self._known(src16, raw[pos + 5 : pos + 13]):
            return _MAY_TEACH  # a first-hop frame: the aux header names the originator
        if command:
            return source  # a NWK command teaches no key
        counter_block = b"\x01" + raw[pos + 5 : pos + 13] + raw[pos + 1 : pos + 5] \
            + _NONCE_TAIL[raw[pos]]
        first, second = raw[payload_pos], raw[payload_pos + 1]
        for cipher in self._probe_by_seq.get(raw[pos + 13], self._probe_default):
            stream = cipher.update(counter_block)
            control = first ^ stream[0]
            # an APS command or extended header (fragment), or data to endpoint 0 (ZDO)
            if control & 0x81 or (not control & 2 and control & 0x0C != 0x0C
                                  and second == stream[1]):
                return _MAY_TEACH
        return source

    def _look_fast(self, raw: bytes, fast: tuple[struct.Struct, int, bool]) -> object:
        """``_look`` for the frames of a transfer: short MAC source, NWK-secured data
        frame without source route; every field it needs read by one precompiled
        struct."""
        layout, _, with_src64 = fast
        if with_src64:
            source, src16, src64, aux, counter, nonce_source, key_seq, first, second = \
                layout.unpack_from(raw)
            if not self._known(src16, src64):
                return _MAY_TEACH
        else:
            source, src16, aux, counter, nonce_source, key_seq, first, second = \
                layout.unpack_from(raw)
        if not aux & EXTENDED_NONCE:
            return _MAY_TEACH
        if source == src16 and self._known_air.get(src16) != nonce_source \
                and not self._known(src16, nonce_source):
            return _MAY_TEACH  # a first-hop frame: the aux header names the originator
        counter_block = b"\x01" + nonce_source + counter + _NONCE_TAIL[aux]
        for cipher in self._probe_by_seq.get(key_seq, self._probe_default):
            stream = cipher.update(counter_block)
            control = first ^ stream[0]
            # an APS command or extended header (fragment), or data to endpoint 0 (ZDO)
            if control & 0x81 or (not control & 2 and control & 0x0C != 0x0C
                                  and second == stream[1]):
                return _MAY_TEACH
        return source

    def _known(self, short: int, air: bytes) -> bool:
        """Whether ``addresses`` already maps ``short`` to the EUI-64 ``air`` (as sent)."""
        if self._known_air.get(short) == air:
            return True
        if self.addresses.get(short) != self._text64(air):
            return False
        self._known_air[short] = air
        return True

    def _text64(self, air: bytes) -> str:
        """An EUI-64 as sent to its text form, remembered: the same few nodes send
        every frame of a capture."""
        text = self._eui_text.get(air)
        if text is None:
            text = self._eui_text[air] = air[::-1].hex().upper()
        return text


_MAC_LAYOUTS: dict[int, tuple[int, int, int] | object | None] = {}


def _mac_layout(control: int) -> tuple[int, int, int] | object | None:
    """For a frame control: (source address position, NWK header position, source
    addressing mode) of a plain 802.15.4-2003/2006 data frame; ``_MAY_TEACH`` for any
    other frame (the full decoder judges it); None for reserved addressing (the decoder
    stops at the MAC header, no source). Remembered: a capture has few."""
    dst_mode, src_mode = (control >> 10) & 3, (control >> 14) & 3
    layout: tuple[int, int, int] | object | None
    if control & 7 != 1 or control & 0x0008 or (control >> 12) & 3 > 1:
        layout = _MAY_TEACH
    elif src_mode == 1 or dst_mode == 1:
        layout = None
    else:
        src_at = 3 + (0, 0, 4, 10)[dst_mode]
        if src_mode and not (dst_mode and control & 0x0040):
            src_at += 2
        layout = (src_at, src_at + (0, 0, 2, 8)[src_mode], src_mode)
    _MAC_LAYOUTS[control] = layout
    return layout


_NWK_PLANS: dict[int, tuple[int, int, bool, bool, bool] | object] = {}


def _nwk_plan(control: int) -> tuple[int, int, bool, bool, bool] | object:
    """For a NWK frame control (R22 3.3.1.1): (offset of the extended source or 0,
    offset after the fixed and extended fields and the multicast control, source route
    follows, secured, command frame); ``_MAY_TEACH`` for inter-PAN and reserved types."""
    plan: tuple[int, int, bool, bool, bool] | object
    if control & 2:
        plan = _MAY_TEACH
    else:
        after = 16 if control & 0x0800 else 8
        src64_at = after if control & 0x1000 else 0
        after += (8 if src64_at else 0) + (1 if control & 0x0100 else 0)
        plan = (src64_at, after, bool(control & 0x0400), bool(control & 0x0200),
                control & 3 == 1)
    _NWK_PLANS[control] = plan
    return plan


_UNSEEN = object()
_FAST_SHAPES: dict[int, tuple[struct.Struct, int, bool] | None] = {}


def _fast_shape(shape: int, layout: tuple[int, int, int]) -> tuple[struct.Struct, int, bool] | None:
    """For MAC and NWK frame controls (``shape``) of a frame the look-ahead reads often
    (short MAC source, NWK-secured data, no source route): a struct reading, at their
    fixed offsets, the MAC source, NWK source, extended source if any, the aux header's
    control, counter, source and key sequence number, and the first two payload bytes;
    the length the frame needs for it; whether the extended source is read. None for
    other frames. Remembered: a capture has few shapes."""
    src_at, pos, src_mode = layout
    plan = _nwk_plan(shape & 0xFFFF)
    fast = None
    if src_mode == 2 and plan is not _MAY_TEACH:
        src64_at, after, routed, secured, command = plan  # type: ignore[misc]
        if secured and not routed and not command:
            fields = [(src_at, "H"), (pos + 4, "H")]
            if src64_at:
                fields.append((pos + src64_at, "8s"))
            fields += [(pos + after, "B4s8sB"), (pos + after + 14, "BB")]
            fmt, cursor = "<", 0
            for offset, code in fields:
                fmt += f"{offset - cursor}x{code}" if offset > cursor else code
                cursor = offset + struct.calcsize("<" + code)
            fast = (struct.Struct(fmt), cursor, bool(src64_at))
    _FAST_SHAPES[shape] = fast
    return fast


def _mac_source(raw: bytes, fcs: bool) -> int | str | None:
    """The MAC source address as ``dissect_frame`` gives it (``mac.src16``, else
    ``mac.src64``), read from the header alone for a frame that is not decoded; None
    where the decoder would find none (no source, reserved mode, cut short)."""
    end = len(raw) - 2 if fcs else len(raw)
    if end < 3:
        return None
    control = raw[0] | raw[1] << 8
    src_mode, dst_mode = control >> 14, (control >> 10) & 3
    if src_mode < 2 or dst_mode == 1 or control & 7 > 3:
        return None
    version = (control >> 12) & 3
    pos = 2 if version == 2 and control & 0x0100 else 3
    dst_pan, src_pan = pan_ids_present(version, dst_mode, src_mode, bool(control & 0x40))
    pos += 2 * dst_pan + (0, 0, 2, 8)[dst_mode] + 2 * src_pan
    if src_mode == 2:
        return raw[pos] | raw[pos + 1] << 8 if pos + 2 <= end else None
    return raw[pos : pos + 8][::-1].hex().upper() if pos + 8 <= end else None


def _aps_may_teach(control: int, second: int) -> bool:
    """From an APS frame's first two bytes: command, extended header (fragments), or a
    unicast/broadcast data frame to endpoint 0 (ZDO)."""
    frame_type = control & 3
    if frame_type == 1 or control & 0x80:
        return True
    return frame_type == 0 and (control >> 2) & 3 != 3 and second == 0
