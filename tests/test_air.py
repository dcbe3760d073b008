"""The virtual clock and the Air: ordering, MAC ACKs and retries, seeded impairments."""

from __future__ import annotations

import random

from hanota.emulators.air import MAX_FRAME_RETRIES, Air, AirConditions
from hanota.emulators.clock import VirtualClock
from hanota.layers.codec import build_frame, parse_frame
from hanota.layers.model import HanFrame, Mac

PAN = 0x1A62


def _frame(seq: int, dst: int, src: int) -> bytes:
    return build_frame(HanFrame(Mac(1, seq, PAN, dst, src, True)))


def _air(seed: int = 1, **conditions: float) -> tuple[VirtualClock, Air, list[bytes]]:
    clock = VirtualClock()
    air = Air(clock, random.Random(seed), AirConditions(**conditions))
    sent: list[bytes] = []
    air.sinks.append(lambda time, psdu: sent.append(psdu))
    return clock, air, sent


def test_clock_runs_events_in_time_order_and_cancelled_ones_not() -> None:
    clock = VirtualClock()
    seen: list[str] = []
    clock.call_at(2.0, seen.append, "late")
    clock.call_at(1.0, seen.append, "early")
    clock.call_at(1.0, seen.append, "early-second")
    clock.call_at(1.5, seen.append, "cancelled").cancel()
    clock.run()
    assert seen == ["early", "early-second", "late"]
    assert clock.now == 2.0


def test_clock_run_until_stops_before_later_events() -> None:
    clock = VirtualClock()
    seen: list[int] = []
    clock.call_at(5.0, seen.append, 5)
    clock.run(until=3.0)
    assert seen == [] and clock.now == 3.0
    clock.run()
    assert seen == [5]


def test_unicast_is_delivered_and_acknowledged() -> None:
    clock, air, sent = _air()
    received: list[bytes] = []
    results: list[bool] = []
    sender = air.attach(0x0001, lambda psdu: None)
    air.attach(0x0002, received.append)
    psdu = _frame(7, 0x0002, 0x0001)
    air.send(sender, psdu, 0x0002, 7, done=results.append)
    clock.run()
    assert received == [psdu]
    assert results == [True]
    assert len(sent) == 2
    ack = parse_frame(sent[1])
    assert ack.mac.frame_type == 2 and ack.mac.seq == 7


def test_missing_receiver_costs_three_retries_then_failure() -> None:
    clock, air, sent = _air()
    results: list[bool] = []
    sender = air.attach(0x0001, lambda psdu: None)
    psdu = _frame(9, 0x0003, 0x0001)
    air.send(sender, psdu, 0x0003, 9, done=results.append)
    clock.run()
    assert sent == [psdu] * (1 + MAX_FRAME_RETRIES)
    assert results == [False]


def test_switched_off_receiver_gets_nothing_and_sends_no_ack() -> None:
    clock, air, sent = _air()
    received: list[bytes] = []
    sender = air.attach(0x0001, lambda psdu: None)
    receiver = air.attach(0x0002, received.append)
    air.power(receiver, False)
    air.send(sender, _frame(1, 0x0002, 0x0001), 0x0002, 1)
    clock.run()
    assert received == []
    assert all(parse_frame(psdu).mac.frame_type == 1 for psdu in sent)


def test_loss_retransmits_but_hands_each_frame_up_once() -> None:
    clock, air, sent = _air(seed=3, loss=0.4)
    received: list[bytes] = []
    sender = air.attach(0x0001, lambda psdu: None)
    air.attach(0x0002, received.append)
    frames = [_frame(seq, 0x0002, 0x0001) for seq in range(40)]
    for seq, psdu in enumerate(frames):
        air.send(sender, psdu, 0x0002, seq)
    clock.run()
    data_sent = [psdu for psdu in sent if parse_frame(psdu).mac.frame_type == 1]
    assert len(data_sent) > len(frames)  # retransmissions happened
    assert len(received) == len(set(received))  # retransmitted duplicates dropped by the MAC
    assert set(received) <= set(frames)
    assert len(received) >= 30  # four attempts: most frames get through 40 % loss


def test_duplication_and_reordering_happen_when_asked() -> None:
    clock, air, _ = _air(seed=5, duplicate=0.3, reorder=0.3, delay=0.01)
    received: list[bytes] = []
    sender = air.attach(0x0001, lambda psdu: None)
    air.attach(0x0002, received.append)
    frames = [_frame(seq, 0x0002, 0x0001) for seq in range(60)]
    for seq, psdu in enumerate(frames):
        air.send(sender, psdu, 0x0002, seq)
    clock.run()
    assert len(received) > len(frames)
    order = [frames.index(psdu) for psdu in dict.fromkeys(received)]
    assert order != sorted(order)


def test_same_seed_same_frames_and_times() -> None:
    def run(seed: int) -> list[tuple[float, bytes]]:
        clock = VirtualClock()
        air = Air(clock, random.Random(seed), AirConditions(loss=0.3))
        log: list[tuple[float, bytes]] = []
        air.sinks.append(lambda time, psdu: log.append((time, psdu)))
        sender = air.attach(0x0001, lambda psdu: None)
        air.attach(0x0002, lambda psdu: None)
        for seq in range(30):
            air.send(sender, _frame(seq, 0x0002, 0x0001), 0x0002, seq)
        clock.run()
        return log

    assert run(11) == run(11)
    assert run(11) != run(12)
