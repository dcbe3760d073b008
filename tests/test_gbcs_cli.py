"""``hanota gbcs`` through ``hanota.cli.main``: text, JSON, signature status, errors."""

import json
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hanota.layers.gbcs import build_cs08_alert, load_private_key_pem

from hanota.cli import main

RTDS = Path(__file__).parent / "data" / "rtds"
KEYS = Path(__file__).parents[1] / "emulators" / "keys"
CCS08 = RTDS / "CCS08_NA_NA_ALERT_GBCS.HEX"
RESPONSE = RTDS / "CS08_11.2_SUCCESS_RESPONSE_GBCS.HEX"


def run_json(capsys: pytest.CaptureFixture[str], *args: str) -> dict:
    assert main(["gbcs", *args, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_ccs08_file_in_text_prints_every_field(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["gbcs", str(CCS08), "--certs", str(RTDS)]) == 0
    out = capsys.readouterr().out
    for expected in (
        "transaction_id: 030000000000000FA0",
        "cra: alert",
        "originator: 00DB1234567890A2",
        "recipient: 90B3D51F30000002",
        "message_code: 0x0128",
        "alert_code: 0x8F8A",
        "execution_date_time: 2015-01-01T00:00:00Z",
        "entity_id: 00DB1234567890A4",
        "firmware_version: 0123ABCD",
        "response_code: 0",
        "signature: valid",
    ):
        assert expected in out, expected


def test_ccs08_json(capsys: pytest.CaptureFixture[str]) -> None:
    summary = run_json(capsys, str(CCS08), "--certs", str(RTDS))
    assert summary["cra_flag"] == 3
    assert summary["originator_counter"] == 4000
    assert summary["message_code"] == "0x0128"
    assert summary["payload"] == {
        "alert_code": 0x8F8A,
        "execution_date_time": "2015-01-01T00:00:00Z",
        "entity_id": "00DB1234567890A4",
        "firmware_version": "0123ABCD",
        "response_code": 0,
    }
    assert summary["signature"] == "valid"


def test_response_given_as_hex_string_with_spaces(capsys: pytest.CaptureFixture[str]) -> None:
    text = RESPONSE.read_text().strip()
    spaced = " ".join(text[i : i + 2] for i in range(0, len(text), 2))
    summary = run_json(capsys, spaced, "--certs", str(RTDS))
    assert summary["framing"] == "general_ciphering"
    assert summary["cra"] == "response"
    assert summary["payload"] == {"firmware_version": "0123ABCD", "response_code": 0}
    assert summary["signature"] == "unsigned"


def test_flipped_byte_is_invalid(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    data = bytearray.fromhex(CCS08.read_text())
    data[40] ^= 0x01  # inside the GeneralizedTime digits: still decodes
    summary = run_json(capsys, data.hex(), "--certs", str(RTDS))
    assert summary["signature"] == "INVALID"


def test_no_certificate_for_originator(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert run_json(capsys, str(CCS08), "--certs", str(tmp_path))["signature"] == (
        "no certificate for originator"
    )


def test_emulator_alert_verifies_with_the_shipped_test_certificate(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    key = load_private_key_pem((KEYS / "chf-test-ds.key").read_bytes())
    data = build_cs08_alert(
        originator="00DB1234567890A2",
        recipient="90B3D51F30000002",
        counter=3,
        time=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
        firmware_version=0x01020304,
        activate_image=1,
        private_key=key,
    )
    shutil.copy(KEYS / "chf-test-ds.pem", tmp_path / "chf-test-ds.pem")
    summary = run_json(capsys, data.hex(), "--certs", str(tmp_path))
    assert summary["payload"] == {
        "alert_code": 0x8F8B,
        "execution_date_time": "2026-01-02T03:04:05Z",
        "firmware_version": "01020304",
        "activate_image": 1,
    }
    assert summary["signature"] == "valid"


def test_undecodable_input_exits_non_zero_naming_field_and_offset(
    capsys: pytest.CaptureFixture[str],
) -> None:
    truncated = CCS08.read_text().strip()[:-2]
    assert main(["gbcs", truncated]) != 0
    err = capsys.readouterr().err
    assert "gbcs.signature at offset 77" in err


def test_not_hex_exits_non_zero(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["gbcs", "not-a-file-nor-hex"]) != 0
    assert "neither a file nor" in capsys.readouterr().err
