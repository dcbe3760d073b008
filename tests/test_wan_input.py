"""The WAN side in every form a supplier holds it: DUIS XML, base64, hex, time-prefixed.

DUIS documents here are the ones the project writes (``hanota.layers.duis.write_duis``, as the
emulator's ``--duis-post`` sends them), checked against the element names and order of
the published DUIS schema (``DUIS Schema V5.1.xsd`` in SmartDCCInnovation's
dccboxed-signing-tool: ``Response``, ``Header``, ``ResponseMessage``,
``DeviceAlertMessage``, ``DCCAlertMessage``, ``LocalCommand``), and parsed back.
"""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from pathlib import Path
from xml.etree.ElementTree import Element

import pytest
from hanota.dut.description import load_dut
from hanota.emulators.duis_post import duis_message
from hanota.emulators.wan import WanMessage
from hanota.layers.duis import (
    DS,
    SR,
    DuisError,
    DuisId,
    duis_time,
    format_duis_time,
    parse_duis,
    parse_xml,
    write_duis,
)
from hanota.layers.gbcs import (
    GeneralSigning,
    build_ccs08_alert,
    build_general_signing,
    decode_gbcs,
    load_private_key_pem,
)
from hanota.layers.gbcs_text import GbcsTextError, parse_gbcs_text
from hanota.layers.wan_text import parse_wan_text
from hanota.targets.replay import load_trace
from hanota.targets.wan_input import read_wan_inputs

from hanota.cli import main

ROOT = Path(__file__).resolve().parents[1]
RTDS = Path(__file__).parent / "data" / "rtds"
KEY = load_private_key_pem((ROOT / "emulators" / "keys" / "chf-test-ds.key").read_bytes())
CHF, SUPPLIER, PPMID = "00DB1234567890A2", "90B3D51F30000002", "00DB1234567890A4"
CCS08_RTDS = bytes.fromhex((RTDS / "CCS08_NA_NA_ALERT_GBCS.HEX").read_text().strip())
COMMAND_RTDS = bytes.fromhex((RTDS / "CS08_11.2_SUCCESS_COMMAND_GBCS.HEX").read_text().strip())
RESPONSE_RTDS = bytes.fromhex((RTDS / "CS08_11.2_SUCCESS_RESPONSE_GBCS.HEX").read_text().strip())
WHEN = 1767225690.855602

# The DUIS schema's sequences (name, optional) for the elements the suite writes and reads.
SCHEMA = {
    "Response": [("Header", False), ("Body", False), ("ds:Signature", True)],
    "Header": [("RequestID", True), ("ResponseID", True), ("ResponseCode", False),
               ("ResponseDateTime", False)],
    "DeviceAlertMessage": [("AlertCode", False), ("ThrottledAlertSequenceId", True),
                           ("ThrottledAlertCount", True), ("GBCSPayload", False)],
    "ResponseMessage": [("ServiceReference", False), ("ServiceReferenceVariant", False),
                        ("GBCSPayload|LocalCommand|PreCommand|FutureDatedDeviceAlertMessage"
                         "|DSPScheduledMessage|CINMessage", True)],
    "LocalCommand": [("GBCSPayload", False)],
}
BODY_CHOICE = {"ResponseMessage", "DeviceAlertMessage", "DCCAlertMessage",
               "SMETS1ResponseMessage"}


def _name(element: Element) -> str:
    namespace, _, local = element.tag[1:].partition("}")
    return {SR: "", DS: "ds:"}[namespace] + local


def assert_schema_order(element: Element) -> None:
    """Every child of a schema'd element is one the schema allows, in its order, with
    the required ones present; recursively."""
    name = _name(element)
    children = [_name(child) for child in element]
    if name == "Body":
        assert len(children) == 1 and children[0] in BODY_CHOICE, children
    elif name in SCHEMA:
        position = 0
        for allowed, optional in SCHEMA[name]:
            names = allowed.split("|")
            if position < len(children) and children[position] in names:
                position += 1
            else:
                assert optional, f"{name}: {allowed} missing in {children}"
        assert position == len(children), f"{name}: unexpected {children[position:]}"
    for child in element:
        assert_schema_order(child)


def _alert(counter: int = 7) -> bytes:
    return build_ccs08_alert(originator=CHF, recipient=SUPPLIER, counter=counter,
                             time=datetime(2026, 1, 1, 0, 1, 30, tzinfo=UTC),
                             alert_code=0x8F8A, entity_id=PPMID, firmware_version=0x01020400,
                             response_code=0, private_key=KEY)


def _written(message: WanMessage) -> str:
    return write_duis(duis_message(message))


def test_emulator_alert_as_duis_follows_the_schema_and_parses_back() -> None:
    data = _alert()
    text = _written(WanMessage(WHEN, CHF, SUPPLIER, "alert", data))
    root = parse_xml(text)
    response = root[0]
    assert _name(response) == "Response" and response.get("schemaVersion") == "5.1"
    assert_schema_order(response)
    [message] = parse_duis(text)
    assert (message.body, message.alert_code, message.gbcs) == ("DeviceAlertMessage", "8F8A",
                                                                data)
    assert message.response_id == DuisId(CHF, SUPPLIER, 7)
    assert message.request_id is None and message.response_code == "I0"
    assert message.time == float(f"{WHEN:.6f}")  # exactly what the hex file keeps
    assert "<sr:AlertCode>8F8A</sr:AlertCode>" in text
    assert "00-DB-12-34-56-78-90-A2:90-B3-D5-1F-30-00-00-02:7" in text


def test_command_and_response_pair_by_request_id() -> None:
    command = _written(WanMessage(WHEN, SUPPLIER, PPMID, "command", COMMAND_RTDS))
    response = _written(WanMessage(WHEN + 2, PPMID, SUPPLIER, "response", RESPONSE_RTDS))
    for text in (command, response):
        assert_schema_order(parse_xml(text)[0])
    [sent] = parse_duis(command)
    [answer] = parse_duis(response)
    assert (sent.body, sent.gbcs_holder, sent.service_reference_variant) == (
        "ResponseMessage", "LocalCommand", "11.2")
    assert (answer.body, answer.gbcs_holder, answer.service_reference_variant) == (
        "ResponseMessage", None, "11.2")
    assert sent.request_id == answer.request_id == DuisId(SUPPLIER, PPMID, 0x0514)
    assert answer.response_id == DuisId(PPMID, SUPPLIER, 0x0514)
    assert decode_gbcs(answer.gbcs).apdu.originator_counter == sent.request_id.counter


def test_several_responses_per_file_concatenated_or_wrapped(tmp_path: Path) -> None:
    one = _written(WanMessage(WHEN, CHF, SUPPLIER, "alert", _alert(1)))
    two = _written(WanMessage(WHEN + 1, CHF, SUPPLIER, "alert", _alert(2)))
    body = one.split("\n", 1)[1] + two.split("\n", 1)[1]
    wrapped = f'<batch xmlns:x="urn:x">{body}</batch>'
    for text in (one + two, wrapped):
        assert [decode_gbcs(m.gbcs).apdu.originator_counter for m in parse_duis(text)] == [1, 2]
    folder = tmp_path / "duis"
    folder.mkdir()
    (folder / "a.xml").write_text(one + two)
    (folder / "b.XML").write_text(_written(WanMessage(WHEN + 2, CHF, SUPPLIER, "alert",
                                                      _alert(3))))
    (folder / "capture.pcapng").write_bytes(b"\x0a\x0d\x0d\x0a")  # not a WAN file: skipped
    items = read_wan_inputs(folder)
    assert [item.source for item in items] == ["a.xml: Response 0", "a.xml: Response 1",
                                               "b.XML: Response 0"]
    assert [item.time for item in items] == [float(f"{WHEN + n:.6f}") for n in range(3)]


DCC_ALERT = f"""<?xml version="1.0" encoding="UTF-8"?>
<sr:Response xmlns:sr="{SR}" schemaVersion="5.1"><sr:Header>
<sr:ResponseID>90-B3-D5-1F-30-00-00-02:90-B3-D5-1F-30-01-00-00:12</sr:ResponseID>
<sr:ResponseCode>I0</sr:ResponseCode><sr:ResponseDateTime>2026-01-01T00:02:00Z
</sr:ResponseDateTime></sr:Header><sr:Body><sr:DCCAlertMessage>
<sr:DCCAlertCode>N12</sr:DCCAlertCode><sr:DCCAlert><sr:PPMIDAlert>
<sr:DeviceID>00-DB-12-34-56-78-90-A4</sr:DeviceID><sr:DeviceAlertCode>8F8B</sr:DeviceAlertCode>
</sr:PPMIDAlert></sr:DCCAlert></sr:DCCAlertMessage></sr:Body>
<ds:Signature xmlns:ds="{DS}"><ds:SignedInfo/></ds:Signature></sr:Response>"""


def test_dcc_alert_is_kept_as_evidence_without_gbcs(tmp_path: Path) -> None:
    [message] = parse_duis(DCC_ALERT)
    assert (message.body, message.alert_code, message.gbcs) == ("DCCAlertMessage", "N12", None)
    assert message.xml_signature is True
    assert message.time == datetime(2026, 1, 1, 0, 2, tzinfo=UTC).timestamp()
    alerts = tmp_path / "dcc.xml"
    alerts.write_text(DCC_ALERT)
    trace = load_trace(load_dut(), ROOT / "pcaps" / "read-version.pcapng", alerts)
    [record] = trace.wan
    assert (record.kind, record.message_code, record.error) == ("duis", None, None)
    assert "DCCAlertMessage" in record.describe() and "no GBCS" in record.describe()


@pytest.mark.parametrize(("text", "reason"), [
    ("<x><y></x>", "malformed XML"),
    ('<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;">]><r>&b;</r>',
     "DOCTYPE declaration refused"),
    ("<r><!ENTITY x SYSTEM 'file:///etc/passwd'></r>", "ENTITY declaration refused"),
    ("<Response/>", "no DUIS Response"),
    (f'<sr:Response xmlns:sr="{SR}"><sr:Body/></sr:Response>', "needs a Header and a Body"),
    (DCC_ALERT.replace("2026-01-01T00:02:00Z", "yesterday"), "not an xs:dateTime"),
    (DCC_ALERT.replace("<sr:DCCAlertCode>N12</sr:DCCAlertCode>", ""), "no DCCAlertCode"),
    (DCC_ALERT.replace("90-B3-D5-1F-30-00-00-02:", ""), "not originator:target:counter"),
])
def test_bad_duis_is_refused_with_its_reason(text: str, reason: str) -> None:
    with pytest.raises(DuisError, match=reason):
        parse_duis(text)


def test_gbcs_payload_must_be_base64() -> None:
    text = _written(WanMessage(WHEN, CHF, SUPPLIER, "alert", _alert()))
    start = text.index("<sr:GBCSPayload>") + len("<sr:GBCSPayload>")
    with pytest.raises(DuisError, match="GBCSPayload is not base64"):
        parse_duis(text[:start] + "!!" + text[start:])


def test_duis_time_keeps_microseconds_and_zones() -> None:
    assert duis_time(format_duis_time(WHEN)) == float(f"{WHEN:.6f}")
    assert duis_time("2022-08-17T15:45:42.790Z") == 1660751142.79
    assert duis_time("2022-08-17T16:45:42.790+01:00") == 1660751142.79
    assert duis_time("2022-08-17T15:45:42") == 1660751142.0  # no zone: UTC


def test_gbcs_text_forms() -> None:
    hexed = CCS08_RTDS.hex().upper()
    spaced = " ".join(hexed[i:i + 2] for i in range(0, len(hexed), 2))
    colons = spaced.replace(" ", ":")
    encoded = base64.b64encode(CCS08_RTDS).decode()
    for text in (hexed, "0x" + hexed.lower(), spaced, colons, encoded,
                 "\n".join(encoded[i:i + 76] for i in range(0, len(encoded), 76)),
                 "\n".join(hexed[i:i + 64] for i in range(0, len(hexed), 64))):
        [message] = parse_gbcs_text(text)
        assert (message.data, message.time) == (CCS08_RTDS, None)
    timed = parse_gbcs_text(f"# UNIX-time HEX\n{WHEN:.6f} {hexed}\n\n1.5 {encoded}\n")
    assert [(m.time, m.data, m.line) for m in timed] == [
        (float(f"{WHEN:.6f}"), CCS08_RTDS, 2), (1.5, CCS08_RTDS, 4)]
    with pytest.raises(GbcsTextError, match="line 3"):
        parse_gbcs_text(f"{hexed}\n{hexed}\n1.0 XYZ\n")
    assert parse_gbcs_text("# UNIX-time GBCS-message-hex (one message per line)\n\n") == []
    with pytest.raises(GbcsTextError, match="neither hex nor base64"):
        parse_gbcs_text("00112233")  # hex, but not a GBCS message


def test_project_alert_files_read_as_before() -> None:
    items = read_wan_inputs(ROOT / "pcaps" / "upgrade.gbcs.hex")
    assert len(items) == 2 and all(item.time is not None and item.duis is None
                                   for item in items)
    assert [decode_gbcs(item.data).apdu.message_code for item in items] == [0x0128, 0x0129]


def test_replay_reads_duis_like_hex(tmp_path: Path) -> None:
    """The reference capture's alerts as DUIS: the trace's WAN side is the same, DUIS
    envelope aside."""
    capture = ROOT / "pcaps" / "upgrade.pcapng"
    hexed = ROOT / "pcaps" / "upgrade.gbcs.hex"
    folder = tmp_path / "duis"
    folder.mkdir()
    for number, item in enumerate(read_wan_inputs(hexed)):
        apdu = decode_gbcs(item.data).apdu
        message = WanMessage(item.time, apdu.originator, apdu.recipient, "alert", item.data)
        (folder / f"{number:02d}.xml").write_text(_written(message))
    dut = load_dut(ROOT / "pcaps" / "dut.toml")
    from_hex = load_trace(dut, capture, hexed)
    from_duis = load_trace(dut, capture, folder)
    fields = ("time", "raw", "kind", "sender", "recipient", "message_code", "fields",
              "transaction_id")
    assert [[getattr(m, f) for f in fields] for m in from_duis.wan] == \
        [[getattr(m, f) for f in fields] for m in from_hex.wan]
    assert [m.duis.body for m in from_duis.wan] == ["DeviceAlertMessage"] * 2
    assert from_hex.wan[0].transaction_id == 0x1001


def test_hanota_gbcs_reads_duis_base64_and_colon_hex(
    capsys: pytest.CaptureFixture[str], tmp_path: Path,
) -> None:
    duis = tmp_path / "alerts.xml"
    duis.write_text(_written(WanMessage(WHEN, CHF, SUPPLIER, "alert", _alert())) + DCC_ALERT)
    assert main(["gbcs", str(duis), "--json", "--certs", str(ROOT / "emulators" / "keys")]) == 0
    first, second = (json.loads(line) for line in capsys.readouterr().out.splitlines())
    assert (first["duis"], first["alert_code"], first["signature"]) == (
        "DeviceAlertMessage", "8F8A", "valid")
    assert first["payload"]["alert_code"] == 0x8F8A
    assert first["xml_signature"] == "absent" and first["use_case"] == "CCS08"
    assert second["duis"] == "DCCAlertMessage" and "carries no GBCS" in second["gbcs"]
    assert second["xml_signature"] == "present (not verified)"
    encoded = base64.b64encode(CCS08_RTDS).decode()
    colons = ":".join(f"{byte:02X}" for byte in CCS08_RTDS)
    for argument in (encoded, colons):
        assert main(["gbcs", argument, "--json"]) == 0
        assert json.loads(capsys.readouterr().out)["transaction_id"] == "030000000000000FA0"
    alerts = ROOT / "pcaps" / "upgrade.gbcs.hex"
    assert main(["gbcs", str(alerts)]) == 0
    out = capsys.readouterr().out
    last = float(alerts.read_text().splitlines()[-1].split()[0])
    when = datetime.fromtimestamp(last, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    assert "--- message 2 of 2" in out and f"time: {when}" in out


def test_hanota_gbcs_names_the_use_case_it_does_not_decode(
    capsys: pytest.CaptureFixture[str],
) -> None:
    unknown = build_general_signing(
        GeneralSigning(3, 1, CHF, SUPPLIER, 0x0023, bytes.fromhex("0500")), None)
    assert main(["gbcs", unknown.hex()]) == 0
    out = capsys.readouterr().out
    assert "payload: not decoded (use case " in out and "content: 0500" in out
    assert parse_wan_text(unknown.hex())[0].data == unknown


def test_a_file_of_an_exchange_without_wan_messages_holds_none(
    tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    """The emulator target writes a comment-only file for an exchange without GBCS."""
    empty = tmp_path / "ihd-refused.gbcs.hex"
    empty.write_text("# UNIX-time GBCS-message-hex (one message per line)\n")
    assert read_wan_inputs(empty) == []
    assert load_trace(load_dut(), ROOT / "pcaps" / "ihd-refused.pcapng", empty).wan == []
    assert main(["gbcs", str(empty)]) == 1
    assert "holds no GBCS message" in capsys.readouterr().err
