"""Sample OTA frames shared by the codec, scapy, tshark and zigpy tests.

One entry per OTA command and per optional-field variant, so every oracle checks the
same set. Also a minimal pcap writer (link type 195) so these tests do not depend on the
capture codec written elsewhere.
"""

from __future__ import annotations

import struct
from typing import Any

from hanota.layers import ota
from hanota.layers.model import Aps, HanFrame, Mac, Nwk, Security
from hanota.layers.zcl import make_zcl

NETWORK_KEY_HEX = "000102030405060708090A0B0C0D0E0F"
LINK_KEY_HEX = "66B6900981E1EE3CA4206B6B861C02BB"  # published install-code example (oracles.md)
WRONG_KEY_HEX = "F0E0D0C0B0A090807060504030201000"
CHF_EUI64 = "00DB1234567890A2"
DEVICE_EUI64 = "00DB1234567890B3"
PAN_ID = 0x1A2B
CHF_SHORT = 0x0000
DEVICE_SHORT = 0x4C21
MANUFACTURER = 0x1234
IMAGE_TYPE = 0x0101
VERSION = 0x01020304

_IMAGE = {"manufacturer_code": MANUFACTURER, "image_type": IMAGE_TYPE, "file_version": VERSION}

# (case id, command, fields) - fields as a caller writes them (derivable fields omitted in
# some cases on purpose, to exercise the derivation).
OTA_CASES: list[tuple[str, str, dict[str, Any]]] = [
    ("notify_type0", "image_notify", {"payload_type": 0, "query_jitter": 100}),
    ("notify_type1", "image_notify", {"payload_type": 1, "query_jitter": 50,
                                      "manufacturer_code": MANUFACTURER}),
    ("notify_type2", "image_notify", {"payload_type": 2, "query_jitter": 1,
                                      "manufacturer_code": MANUFACTURER,
                                      "image_type": IMAGE_TYPE}),
    ("notify_type3", "image_notify", {"query_jitter": 100, **_IMAGE}),
    ("qni_request", "query_next_image_request", {"field_control": 0, **_IMAGE}),
    ("qni_request_hw", "query_next_image_request", {**_IMAGE, "hardware_version": 0x0203}),
    ("qni_response_ok", "query_next_image_response", {"status": 0, **_IMAGE,
                                                      "image_size": 1_048_576}),
    ("qni_response_none", "query_next_image_response", {"status": ota.NO_IMAGE_AVAILABLE}),
    ("block_request", "image_block_request", {"field_control": 0, **_IMAGE,
                                              "file_offset": 4096, "maximum_data_size": 64}),
    ("block_request_node", "image_block_request", {**_IMAGE, "file_offset": 0,
                                                   "maximum_data_size": 48,
                                                   "request_node_address": DEVICE_EUI64}),
    ("block_request_delay", "image_block_request", {**_IMAGE, "file_offset": 128,
                                                    "maximum_data_size": 64,
                                                    "block_request_delay": 250}),
    ("block_request_both", "image_block_request", {"field_control": 3, **_IMAGE,
                                                   "file_offset": 0x10000,
                                                   "maximum_data_size": 32,
                                                   "request_node_address": DEVICE_EUI64,
                                                   "block_request_delay": 1000}),
    ("page_request", "image_page_request", {"field_control": 0, **_IMAGE, "file_offset": 512,
                                            "maximum_data_size": 64, "page_size": 1024,
                                            "response_spacing": 20}),
    ("page_request_node", "image_page_request", {**_IMAGE, "file_offset": 0,
                                                 "maximum_data_size": 64, "page_size": 256,
                                                 "response_spacing": 5,
                                                 "request_node_address": DEVICE_EUI64}),
    ("block_response_ok", "image_block_response", {"status": 0, **_IMAGE, "file_offset": 4096,
                                                    "data": bytes(range(40))}),
    ("block_response_wait", "image_block_response", {"status": ota.WAIT_FOR_DATA,
                                                      "current_time": 800_000_000,
                                                      "request_time": 800_000_030,
                                                      "minimum_block_period": 250}),
    ("block_response_abort", "image_block_response", {"status": ota.ABORT}),
    ("end_request_ok", "upgrade_end_request", {"status": 0, **_IMAGE}),
    ("end_request_invalid", "upgrade_end_request", {"status": ota.INVALID_IMAGE, **_IMAGE}),
    ("end_request_more", "upgrade_end_request", {"status": ota.REQUIRE_MORE_IMAGE, **_IMAGE}),
    ("end_request_abort", "upgrade_end_request", {"status": ota.ABORT, **_IMAGE}),
    ("end_response", "upgrade_end_response", {**_IMAGE, "current_time": 800_000_000,
                                              "upgrade_time": 800_000_060}),
    ("end_response_wait", "upgrade_end_response", {"manufacturer_code": 0xFFFF,
                                                   "image_type": 0xFFFF,
                                                   "file_version": 0xFFFFFFFF,
                                                   "current_time": 0,
                                                   "upgrade_time": 0xFFFFFFFF}),
    ("dsf_request", "query_device_specific_file_request", {"request_node_address": DEVICE_EUI64,
                                                           **_IMAGE,
                                                           "zigbee_stack_version": 2}),
    ("dsf_response_ok", "query_device_specific_file_response", {"status": 0, **_IMAGE,
                                                                "image_size": 2048}),
    ("dsf_response_none", "query_device_specific_file_response",
     {"status": ota.NO_IMAGE_AVAILABLE}),
]

# Profile-wide commands on the OTA cluster.
GENERAL_CASES: list[tuple[str, str, dict[str, Any]]] = [
    ("read_attributes", "read_attributes", {"attributes": [ota.CURRENT_FILE_VERSION]}),
    ("read_attributes_response", "read_attributes_response", {"records": [
        {"attribute": ota.CURRENT_FILE_VERSION, "status": 0, "data_type": 0x23,
         "value": VERSION}]}),
    ("default_response", "default_response", {"command_id": 0x00, "status": 0}),
]

ALL_CASES = OTA_CASES + GENERAL_CASES


def is_from_server(command: str, fields: dict[str, Any]) -> bool:
    """Who sends this command in the samples: the CHF (server) or the device."""
    spec = ota.BY_NAME.get(command)
    if spec is not None:
        return spec.direction == ota.SERVER_TO_CLIENT
    return command in ("read_attributes", "default_response")


def sample_frame(
    command: str,
    fields: dict[str, Any],
    seq: int = 1,
    *,
    nwk_secured: bool = True,
    aps_key_id: int | None = None,
) -> HanFrame:
    """The frame carrying one command between the CHF and the device, NWK-secured with
    the test network key (aux header with extended nonce) and optionally APS-secured."""
    from_server = is_from_server(command, fields)
    src16, dst16 = (CHF_SHORT, DEVICE_SHORT) if from_server else (DEVICE_SHORT, CHF_SHORT)
    source64 = CHF_EUI64 if from_server else DEVICE_EUI64
    nwk_security = Security(1, 1000 + seq, source64, 0) if nwk_secured else None
    aps_security = Security(aps_key_id, 500 + seq, source64) if aps_key_id is not None else None
    direction = 1 if command == "default_response" else None
    return HanFrame(
        mac=Mac(1, seq & 0xFF, PAN_ID, dst16, src16, True),
        nwk=Nwk(dst16, src16, seq & 0xFF, 30, 0, None, None, nwk_security),
        aps=Aps(ota.CLUSTER_ID, 0x0109, 1, 1, seq & 0xFF, security=aps_security),
        zcl=make_zcl(command, fields, seq & 0xFF, direction=direction),
    )


def pcap_bytes(frames: list[bytes], linktype: int = 195) -> bytes:
    """Classic pcap (microsecond, little-endian) holding ``frames``, one per second."""
    out = bytearray(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, linktype))
    for number, frame in enumerate(frames):
        out += struct.pack("<IIII", 1_700_000_000 + number, 0, len(frame), len(frame))
        out += frame
    return bytes(out)
