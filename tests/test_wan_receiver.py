"""The live WAN source: DUIS POSTs taken, bad ones refused with a reason, none lost; the
live trace waits for the WAN side to catch up with the HAN side. Loopback only."""

from __future__ import annotations

import http.client
import socket
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hanota.dut.description import load_dut
from hanota.emulators.duis_post import duis_message, post_duis
from hanota.emulators.wan import WanMessage
from hanota.layers.capture_zep import zep_encode
from hanota.layers.duis import write_duis
from hanota.layers.gbcs import build_ccs08_alert, load_private_key_pem
from hanota.targets.live import LiveTarget
from hanota.targets.wan_receiver import WanReceiver, parse_wan_source
from hanota.verify.checks.version_report import check_alert_signatures
from hanota.verify.verdicts import Inconclusive

ROOT = Path(__file__).resolve().parents[1]
KEY = load_private_key_pem((ROOT / "emulators" / "keys" / "chf-test-ds.key").read_bytes())
CHF, SUPPLIER, PPMID = "00DB1234567890A2", "90B3D51F30000002", "00DB1234567890A4"
DUT = load_dut()
T0 = 1767225690.5


def _alert(counter: int, when: float = T0) -> WanMessage:
    data = build_ccs08_alert(originator=CHF, recipient=SUPPLIER, counter=counter,
                             time=datetime(2026, 1, 1, tzinfo=UTC), alert_code=0x8F8A,
                             entity_id=PPMID, firmware_version=0x01020400, response_code=0,
                             private_key=KEY)
    return WanMessage(when, CHF, SUPPLIER, "alert", data)


def _post(receiver: WanReceiver, body: bytes | None, *, path: str | None = None,
          content_type: str | None = "application/xml", method: str = "POST",
          headers: dict[str, str] | None = None) -> tuple[int, str]:
    host, port = receiver.url.split("//")[1].split("/")[0].rsplit(":", 1)
    connection = http.client.HTTPConnection(host, int(port), timeout=5)
    sent = dict(headers or {})
    if content_type is not None:
        sent["Content-Type"] = content_type
    connection.request(method, path or receiver.spec.path, body=body, headers=sent)
    answer = connection.getresponse()
    text = answer.read().decode()
    connection.close()
    return answer.status, text


def test_source_url_is_parsed() -> None:
    spec = parse_wan_source("http://127.0.0.1:8443/smartdcc/duis")
    assert (spec.host, spec.port, spec.path) == ("127.0.0.1", 8443, "/smartdcc/duis")
    for bad in ("https://127.0.0.1/x", "zep://127.0.0.1:1", "127.0.0.1:80", "http://:80/"):
        with pytest.raises(ValueError, match="expected http://HOST:PORT/PATH"):
            parse_wan_source(bad)


def test_receiver_takes_duis_and_refuses_the_rest_without_losing_any() -> None:
    good = write_duis(duis_message(_alert(1))).encode()
    not_gbcs = good.replace(b"<sr:GBCSPayload>3", b"<sr:GBCSPayload>A")
    with WanReceiver("http://127.0.0.1:0/duis", max_body=64_000) as receiver:
        assert receiver.url.startswith("http://127.0.0.1:")
        assert _post(receiver, good) == (204, "")
        refusals = [
            (_post(receiver, b"<sr:Response"), 400, "malformed XML"),
            (_post(receiver, b"<a/>"), 400, "no DUIS Response"),
            (_post(receiver, good, content_type="text/plain"), 415, "content type"),
            (_post(receiver, good, content_type=None), 415, "content type"),
            (_post(receiver, b"<" * 70_000), 413, "the limit is 64000"),
            (_post(receiver, good, path="/elsewhere"), 404, "is not /duis"),
            (_post(receiver, None, method="GET"), 405, "only POST"),
            (_post(receiver, not_gbcs), 422, "GBCSPayload is not GBCS"),
            (_post(receiver, b'<!DOCTYPE x [<!ENTITY e "e">]><x>&e;</x>'), 400,
             "DOCTYPE declaration refused"),
        ]
        for (status, text), expected, reason in refusals:
            assert status == expected and reason in text, (status, text)
        assert _post(receiver, good.replace(b":1</sr:ResponseID>", b":2</sr:ResponseID>"),
                     content_type="text/xml; charset=utf-8")[0] == 204
        items = receiver.buffer.since(0)
    assert [item.duis.response_id.counter for item in items] == [1, 2]
    assert receiver.stats.refused == len(refusals)
    assert all(reason in note for note, (_, _, reason) in zip(receiver.stats.rejected,
                                                                refusals, strict=True))
    assert receiver.summary().endswith(f"2 DUIS documents, 2 messages, {len(refusals)} refused")


def test_receiver_survives_a_silent_client_and_answers_others() -> None:
    good = write_duis(duis_message(_alert(1))).encode()
    with WanReceiver("http://127.0.0.1:0/duis") as receiver:
        host, port = receiver.url.split("//")[1].split("/")[0].rsplit(":", 1)
        silent = http.client.HTTPConnection(host, int(port), timeout=5)
        silent.connect()  # connects and says nothing
        assert _post(receiver, good)[0] == 204
        silent.close()


def test_emulator_posts_its_messages_as_duis() -> None:
    with WanReceiver("http://127.0.0.1:0/duis") as receiver:
        report = post_duis(receiver.url, [_alert(1), _alert(2, T0 + 1)])
        items = receiver.buffer.since(0)
    assert report == ["alert -> 204", "alert -> 204"]
    assert [item.time for item in items] == [T0, T0 + 1]
    assert [item.duis.body for item in items] == ["DeviceAlertMessage"] * 2
    with WanReceiver("http://127.0.0.1:0/duis") as receiver, \
            pytest.raises(ValueError, match="404"):
        post_duis(receiver.url + "/wrong", [_alert(1)])


def _zep(target: LiveTarget, frames: int, start: float) -> None:
    """Send ``frames`` short MAC frames as ZEP (the DUT's channel), one a second from
    ``start``: only their times matter here."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        for number in range(frames):
            ack = bytes([0x02, 0x00, number & 0xFF])
            sock.sendto(zep_encode(ack, DUT.channel, number + 1, start + number),
                        target.address)


def _wait_frames(target: LiveTarget, count: int) -> None:
    deadline = time.monotonic() + 5
    while len(target.buffer) < count and time.monotonic() < deadline:
        time.sleep(0.01)
    assert len(target.buffer) == count


def test_live_trace_waits_for_duis_sent_after_the_frames() -> None:
    with LiveTarget(DUT, "zep://127.0.0.1:0", wan_source="http://127.0.0.1:0/duis",
                    evidence_timeout=10, duis_latency=5) as target:
        trace = target.trace()
        _zep(target, 3, T0)
        _wait_frames(target, 3)
        late = threading.Timer(0.5, post_duis, (target.receiver.url,
                                                [_alert(1, T0 + 1), _alert(2, T0 + 5)]))
        late.start()
        started = time.monotonic()
        wan = trace.wan  # waits: the frames run to T0+2, no DUIS yet
        waited = time.monotonic() - started
        late.join()
    # caught up once a DUIS message stamped after the newest frame (T0+2) arrived
    assert [m.transaction_id for m in wan] == [1, 2]
    assert 0.4 < waited < 4.0
    assert target.wan_note is None
    assert "WAN http://127.0.0.1:" in target.summary()


def test_live_trace_without_duis_says_so_after_the_latency() -> None:
    with LiveTarget(DUT, "zep://127.0.0.1:0", wan_source="http://127.0.0.1:0/duis",
                    evidence_timeout=10, duis_latency=0.5) as target:
        trace = target.trace()
        _zep(target, 2, T0)
        _wait_frames(target, 2)
        started = time.monotonic()
        assert trace.wan == []
        assert 0.3 < time.monotonic() - started < 3.0
        assert target.wan_note == f"no DUIS alert within 0.5 s at {target.receiver.url}"
        with pytest.raises(Inconclusive):
            check_alert_signatures(trace)


def test_live_trace_without_wan_source_never_waits() -> None:
    with LiveTarget(DUT, "zep://127.0.0.1:0", evidence_timeout=10) as target:
        started = time.monotonic()
        assert target.trace().wan == []
        assert time.monotonic() - started < 0.5 and target.receiver is None
