"""AES-MMO against the published install-code example (shared/domain/oracles.md)."""

import pytest
from hanota.layers.aesmmo import aes_mmo, crc16_x25, derived_key, hmac_mmo, install_code_link_key

# Published example (ZigBee install code worked example, quoted in oracles.md).
INSTALL_CODE = bytes.fromhex("83FED3407A939723A5C639B26916D505")
LINK_KEY = bytes.fromhex("66B6900981E1EE3CA4206B6B861C02BB")


def test_install_code_crc_is_the_published_value() -> None:
    assert crc16_x25(INSTALL_CODE) == 0xB5C3


def test_install_code_gives_the_published_link_key() -> None:
    assert install_code_link_key(INSTALL_CODE) == LINK_KEY
    assert install_code_link_key(INSTALL_CODE + bytes.fromhex("C3B5")) == LINK_KEY


def test_wrong_crc_is_refused() -> None:
    with pytest.raises(ValueError, match="CRC"):
        install_code_link_key(INSTALL_CODE + b"\x00\x00")


def test_long_message_padding_changes_the_digest() -> None:
    # 8192 bytes is the first length that needs the 32-bit length field.
    assert aes_mmo(bytes(8191)) != aes_mmo(bytes(8192))
    assert len(aes_mmo(bytes(8192))) == 16


def test_derived_keys_differ_and_match_hmac() -> None:
    transport, load = derived_key(LINK_KEY, 2), derived_key(LINK_KEY, 3)
    assert transport != load
    assert transport == hmac_mmo(LINK_KEY, b"\x00")
    with pytest.raises(ValueError):
        derived_key(LINK_KEY, 1)
