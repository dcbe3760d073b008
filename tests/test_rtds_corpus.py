"""The GBCS codec on the DCC's whole Reference Test Data Set 4.5.0 (1,275 messages).

An independent oracle: messages the DCC wrote, not the suite. Every one must decode
(0xDF and 0xDD, every other-information length, pre-commands without a signature field),
re-encode byte for byte, every signature present must verify with the keystore's
digital-signing certificate, and every 0xDD GMAC whose parties' key-agreement keys the
keystore holds must verify. The corpus and keystore are one archive in tests/data/rtds
(see its README).
"""

from __future__ import annotations

import tarfile
from collections import Counter
from pathlib import Path

import pytest
from hanota.layers.gbcs import decode_gbcs, encode_gbcs, verify_apdu
from hanota.layers.gbcs_apdu import GMAC_TAG_SIZE, decode_general_ciphering
from hanota.layers.gbcs_gmac import (
    GMAC_INVALID,
    GMAC_NO_KEY,
    GMAC_VALID,
    compute_gmac,
    derive_key,
    gmac_status,
)
from hanota.layers.model import DecodeError
from hanota.targets.keystore import Keystore, load_keystore
from hanota.targets.wan_input import read_wan_inputs

ARCHIVE = Path(__file__).parent / "data" / "rtds" / "rtds-4.5.0-corpus.tar.xz"
CORPUS_SIZE = 1275
PRE_COMMANDS = 178

# GBCS 18.4 cryptographic test vector (ECS04b from Supplier A 123456789ABCDEF0 to device
# FFFFFFFFFFFFFFFE, MAC by the ACB whose KA key the keystore holds as abababababababab).
GBCS_18_4 = bytes.fromhex(
    "DD00000000000081A91100000000DF0901000000000000000108123456789ABCDEF008FFFFFFFFFFFF"
    "FFFE000200B335D92000000100030300700000130A00FF020300700000130A01FF020300700000130A"
    "02FF02030500000000050000000005000000004059045AB0F554622B0360340B9D87B5A23ED5723B41"
    "DE3F206E58CDD10F915B9FE2E12E2DA3632478A8DF678E418895869AC1E55318CCE04D120D2D6B44DC"
    "167B5D832D15B57A56D620F198B3"
)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("rtds")
    with tarfile.open(ARCHIVE) as archive:
        archive.extractall(root, filter="data")
    return root


@pytest.fixture(scope="module")
def messages(corpus: Path) -> dict[str, bytes]:
    found = {}
    for folder in sorted((corpus / "RTDS-4.5.0").iterdir()):
        for item in read_wan_inputs(folder):
            assert item.data is not None and item.time is None
            found[f"{folder.name}/{item.source}"] = item.data
    return found


@pytest.fixture(scope="module")
def keystore(corpus: Path) -> Keystore:
    return load_keystore(corpus / "keystore")


def test_every_message_decodes_and_re_encodes_byte_for_byte(messages: dict[str, bytes]) -> None:
    assert len(messages) == CORPUS_SIZE
    decoded = {name: decode_gbcs(data) for name, data in messages.items()}
    exact = [name for name, data in messages.items() if encode_gbcs(decoded[name]) == data]
    assert len(exact) == CORPUS_SIZE
    apdus = [message.apdu for message in decoded.values()]
    pre_commands = [name for name, message in decoded.items()
                    if not message.apdu.signature_field]
    assert len(pre_commands) == PRE_COMMANDS
    assert all("PRECOMMAND" in name and messages[name][0] == 0xDF for name in pre_commands)
    # every kind of other information: 2, 10, 18, 26 bytes, and 18 + a KA certificate
    kinds = Counter(
        "certificate" if apdu.key_agreement_certificate else
        "originator counter" if apdu.supplementary_originator_counter is not None else
        "party counter" if apdu.supplementary_remote_party_counter is not None else
        "party" if apdu.supplementary_remote_party_id else "code" for apdu in apdus)
    assert set(kinds) == {"code", "party", "party counter", "originator counter", "certificate"}
    assert Counter(message.ciphering is not None for message in decoded.values()) == {
        True: 815, False: 460}


def test_the_8f88_alert_with_a_10_byte_other_information(messages: dict[str, bytes]) -> None:
    name = next(name for name in messages if "ECS200_NA_8F88_ALERT" in name)
    apdu = decode_gbcs(messages[name]).apdu
    assert (apdu.message_code, apdu.supplementary_remote_party_id) == (0x0123, "90B3D51F30010008")
    assert apdu.supplementary_remote_party_counter is None


def test_every_signature_verifies_with_the_keystore(
    messages: dict[str, bytes], keystore: Keystore,
) -> None:
    signed = {name: data for name, data in messages.items()
              if decode_gbcs(data).apdu.signature is not None}
    assert len(signed) == 472
    verified = [name for name, data in signed.items()
                if verify_apdu(data, keystore.signing_certificate(
                    decode_gbcs(data).apdu.originator))]
    assert len(verified) == len(signed)


def test_every_gmac_with_known_keys_verifies(
    messages: dict[str, bytes], keystore: Keystore,
) -> None:
    statuses = {name: gmac_status(data, keystore.key_agreement)
                for name, data in messages.items() if data[0] == 0xDD}
    counts = Counter(statuses.values())
    assert counts == {GMAC_VALID: 811, GMAC_NO_KEY: 4}
    # no key: a PPMID's commands to the gas meter and their responses (device keys only)
    assert all(name.split("/")[0].endswith(("PCS01", "PCS02"))
               for name, status in statuses.items() if status == GMAC_NO_KEY)


@pytest.mark.parametrize("use_case", ["CS08_11.2_SUCCESS_COMMAND", "CS08_11.2_SUCCESS_RESPONSE",
                                      "CCS06_8.9_SUCCESS_RESPONSE"])
def test_one_bit_changed_anywhere_in_the_authenticated_data_invalidates_the_gmac(
    messages: dict[str, bytes], keystore: Keystore, use_case: str,
) -> None:
    name = next(name for name in messages if use_case in name)
    data = messages[name]
    wrapper, inner_at, _ = decode_general_ciphering(data)
    keys = keystore.key_agreement
    key = derive_key(*keys.pair(*keys.parties(wrapper.apdu)), wrapper.apdu)
    assert compute_gmac(data, key) == wrapper.gmac_tag
    outcomes: Counter[str] = Counter()
    for position in range(inner_at - 5, len(data)):  # security header to the tag's end
        for bit in range(8):
            changed = bytearray(data)
            changed[position] ^= 1 << bit
            try:
                status = gmac_status(bytes(changed), keys)
            except DecodeError:
                outcomes["framing broken"] += 1
                continue
            assert status != GMAC_VALID, (position, bit)
            if position < len(data) - GMAC_TAG_SIZE:
                assert compute_gmac(bytes(changed), key) != wrapper.gmac_tag, (position, bit)
            outcomes[status] += 1
    assert outcomes[GMAC_INVALID] > outcomes["framing broken"]


def test_gbcs_18_4_vector_verifies_with_the_acb_key(corpus: Path) -> None:
    keystore = load_keystore(corpus / "keystore", access_control_broker="ABABABABABABABAB")
    assert gmac_status(GBCS_18_4, keystore.key_agreement) == GMAC_VALID
    changed = bytearray(GBCS_18_4)
    changed[60] ^= 0x80
    assert gmac_status(bytes(changed), keystore.key_agreement) == GMAC_INVALID
