"""The Air: an in-memory 802.15.4 channel carrying raw PSDU bytes between radios.

Why a MAC model and not a function call between nodes: the suite judges captures, and a
capture of a real HAN holds MAC ACKs, retransmissions of the same MAC sequence number,
duplicates and frames that one node sent but another never got. Every frame, ACKs
included, goes to the sinks (capture writer, ZEP streamer) at the virtual time it is
sent; whether it arrives is decided afterwards by a seeded random generator, so the same
seed gives the same capture byte for byte.
"""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from hanota.emulators.clock import VirtualClock
from hanota.layers.codec import mac_ack

SYMBOL_S = 16e-6  # 2.4 GHz O-QPSK: 62.5 ksymbol/s, 2 symbols per byte
PHY_OVERHEAD_BYTES = 6  # preamble (4), SFD (1), PHY header (1)
TURNAROUND_S = 12 * SYMBOL_S  # aTurnaroundTime: receive to ACK transmit
ACK_WAIT_S = 54 * SYMBOL_S  # macAckWaitDuration
BACKOFF_S = 20 * SYMBOL_S  # aUnitBackoffPeriod
INTERFRAME_S = 40 * SYMBOL_S  # LIFS between two frames of one sender
MAX_FRAME_RETRIES = 3  # macMaxFrameRetries
MAX_BACKOFF_EXPONENT = 3  # macMinBE: 0..7 backoff periods before a transmission
REORDER_HOLD_S = 0.05  # how long a frame picked for reordering is held back
BROADCAST = 0xFFFF  # MAC broadcast address: every radio in range hears the frame

Sink = Callable[[float, bytes], None]
Receiver = Callable[[bytes], None]
Done = Callable[[bool], None]


def airtime(length: int) -> float:
    """Seconds a PSDU of ``length`` bytes occupies the channel."""
    return (length + PHY_OVERHEAD_BYTES) * 2 * SYMBOL_S


@dataclass(frozen=True)
class AirConditions:
    """Impairments of the channel, each applied independently per frame.

    loss: probability that a frame (data or ACK) does not reach its receiver;
    duplicate: probability that a received frame is handed up twice (a repeater echo);
    delay: largest extra delay (s) between MAC reception and the node seeing the frame;
    reorder: probability that a received frame is held back so later ones overtake it.
    """

    loss: float = 0.0
    duplicate: float = 0.0
    delay: float = 0.0
    reorder: float = 0.0


class Radio:
    """One node's MAC: its short address, transmit queue and receive dedup state."""

    __slots__ = ("busy", "deliver", "last_seq", "online", "queue", "short")

    def __init__(self, short: int, deliver: Receiver) -> None:
        self.short = short
        self.deliver = deliver
        self.online = True
        self.busy = False
        self.queue: deque[_Transmission] = deque()
        self.last_seq: dict[int, int] = {}


class _Transmission:
    __slots__ = ("ack_request", "acked", "attempts", "done", "dst", "psdu", "sender", "seq")

    def __init__(
        self, sender: Radio, psdu: bytes, dst: int, seq: int, ack_request: bool,
        done: Done | None,
    ) -> None:
        self.sender = sender
        self.psdu = psdu
        self.dst = dst
        self.seq = seq
        self.ack_request = ack_request
        self.done = done
        self.attempts = 0
        self.acked = False


class Air:
    """The channel: radios by short address, the sinks every frame is written to."""

    def __init__(
        self, clock: VirtualClock, rng: random.Random, conditions: AirConditions | None = None
    ) -> None:
        self.clock = clock
        self.rng = rng
        self.conditions = conditions or AirConditions()
        self.radios: dict[int, Radio] = {}
        self.sinks: list[Sink] = []
        self.frames = 0

    def attach(self, short: int, deliver: Receiver) -> Radio:
        radio = Radio(short, deliver)
        self.radios[short] = radio
        return radio

    def send(
        self, sender: Radio, psdu: bytes, dst: int, seq: int, *, ack_request: bool = True,
        done: Done | None = None,
    ) -> None:
        """Queue ``psdu`` on ``sender``'s MAC; ``done(acked)`` when the MAC has finished.
        ``dst`` BROADCAST reaches every other radio (each with its own loss), unacked."""
        if not sender.online:
            return
        sender.queue.append(_Transmission(sender, psdu, dst, seq, ack_request, done))
        if not sender.busy:
            self._start_next(sender)

    def readdress(self, radio: Radio, short: int) -> None:
        """The radio answers to a new short address (a rejoin that got a new one)."""
        if short in self.radios:
            raise ValueError(f"short address 0x{short:04X} is taken")
        del self.radios[radio.short]
        radio.short = short
        self.radios[short] = radio

    def power(self, radio: Radio, online: bool) -> None:
        """Switch a radio on or off; switching off drops whatever it had queued."""
        radio.online = online
        if not online:
            radio.queue.clear()

    # ---- internals ---------------------------------------------------------------------

    def _start_next(self, sender: Radio) -> None:
        if not sender.queue or not sender.online:
            sender.busy = False
            return
        sender.busy = True
        backoff = self.rng.randrange(1 << MAX_BACKOFF_EXPONENT) * BACKOFF_S
        self.clock.call_later(backoff, self._emit, sender.queue[0])

    def _write(self, psdu: bytes) -> None:
        self.frames += 1
        now = self.clock.now
        for sink in self.sinks:
            sink(now, psdu)

    def _lost(self) -> bool:
        loss = self.conditions.loss
        return loss > 0.0 and self.rng.random() < loss

    def _emit(self, tx: _Transmission) -> None:
        sender = tx.sender
        if not sender.online:
            self._finish(tx, False)
            return
        tx.attempts += 1
        self._write(tx.psdu)
        duration = airtime(len(tx.psdu))
        if tx.dst == BROADCAST:
            for receiver in list(self.radios.values()):
                if receiver is not sender and not self._lost():
                    self.clock.call_later(duration, self._arrive, tx, receiver)
        else:
            receiver = self.radios.get(tx.dst)
            if receiver is not None and not self._lost():
                self.clock.call_later(duration, self._arrive, tx, receiver)
        if tx.ack_request:
            self.clock.call_later(duration + ACK_WAIT_S, self._ack_timeout, tx)
        else:
            self.clock.call_later(duration, self._finish, tx, True)

    def _arrive(self, tx: _Transmission, receiver: Radio) -> None:
        if not receiver.online:
            return
        if tx.ack_request:
            self.clock.call_later(TURNAROUND_S, self._emit_ack, tx, receiver)
        source = tx.sender.short
        if receiver.last_seq.get(source) == tx.seq and tx.attempts > 1:
            return  # a retransmission whose first copy got through: the MAC drops it
        receiver.last_seq[source] = tx.seq
        self._hand_up(receiver, tx.psdu)

    def _hand_up(self, receiver: Radio, psdu: bytes) -> None:
        conditions = self.conditions
        delay = conditions.delay * self.rng.random() if conditions.delay else 0.0
        if conditions.reorder and self.rng.random() < conditions.reorder:
            delay += REORDER_HOLD_S
        copies = 2 if conditions.duplicate and self.rng.random() < conditions.duplicate else 1
        for _ in range(copies):
            if delay:
                self.clock.call_later(delay, self._deliver_if_online, receiver, psdu)
            else:
                receiver.deliver(psdu)

    @staticmethod
    def _deliver_if_online(receiver: Radio, psdu: bytes) -> None:
        if receiver.online:
            receiver.deliver(psdu)

    def _emit_ack(self, tx: _Transmission, receiver: Radio) -> None:
        if not receiver.online:
            return
        self._write(mac_ack(tx.seq))
        if tx.sender.online and not self._lost():
            tx.acked = True

    def _ack_timeout(self, tx: _Transmission) -> None:
        if tx.acked:
            self._finish(tx, True)
        elif tx.attempts <= MAX_FRAME_RETRIES and tx.sender.online:
            backoff = self.rng.randrange(1 << MAX_BACKOFF_EXPONENT) * BACKOFF_S
            self.clock.call_later(backoff, self._emit, tx)
        else:
            self._finish(tx, False)

    def _finish(self, tx: _Transmission, acked: bool) -> None:
        sender = tx.sender
        if sender.queue and sender.queue[0] is tx:
            sender.queue.popleft()
        if tx.done is not None:
            tx.done(acked)
        self.clock.call_later(INTERFRAME_S, self._start_next, sender)
