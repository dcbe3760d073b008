"""The GMAC of the General Ciphering wrapper (0xDD): key agreement, KDF, AES-GCM.

Why the suite checks it: a CS08 command or response whose tag does not verify was
changed on the way or built with the wrong keys, and a supplier's head-end drops it. The
recipe is GBCS 4.3.3 (key derivation) and 6.2.3 (command cryptographic protection), as
the public parsers implement it (HenryGiraldo/gbcs ``calculate_mac``, checked there
against the GBCS 18.4 test vector; SmartDCCInnovation/gbcs-parser ``deriveKeyFromPair``):

- shared secret Z: static-static ECDH (P-256) between two key-agreement (KA) keys (the
  private key of one party, the public key of the other: both ways give the same Z).
  The parties: for a remote party's command, the access control broker (ACB), which
  protects every command it forwards, and the recipient device; for a device's command
  (a PPMID's to a gas meter), a response or an alert: originator and recipient. Checked
  on the whole RTDS 4.5.0: its remote parties' commands verify only with the ACB's key
  (90B3D51F30000002, role 4 in DCC Boxed's keystore) whoever originated them, its
  responses and alerts only with their recipient's;
- key: NIST SP 800-56A single-step KDF with SHA-256, one round,
  ``SHA-256(00000001 || Z || OtherInfo)`` cut to 16 bytes, where OtherInfo is
  AlgorithmID ``60 85 74 06 08 03 00`` || originator system title (8) || transaction id
  as it is encoded in the APDU (``09`` || CRA flag || originator counter) || recipient
  system title (8);
- IV: originator system title (8) || invocation counter (4, from the wrapper);
- AES-128-GCM with no plaintext; the authenticated data is the security header byte,
  the wrapper's five empty fields (transaction id, system titles, date-time, other
  information: ``00`` each) and the inner 0xDF APDU up to the tag; the tag is the first
  12 bytes of GCM's.

Keys come in as objects (``KeyAgreementKeys``): this layer does no I/O.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from hanota.layers.der import encode_value
from hanota.layers.gbcs_apdu import (
    CIPHERING_EMPTY_FIELDS,
    CRA_COMMAND,
    GMAC_TAG_SIZE,
    GeneralSigning,
    decode_general_ciphering,
)

ALGORITHM_ID = bytes.fromhex("60857406080300")
KDF_ROUND = (1).to_bytes(4, "big")
AES_KEY_SIZE = 16

GMAC_VALID = "valid"
GMAC_INVALID = "invalid"
GMAC_NO_KEY = "no key"


@dataclass
class KeyAgreementKeys:
    """Key-agreement keys by system title (16 upper-case hex digits): the public keys of
    devices and remote parties (from their KA certificates) and the private keys of the
    parties whose keys are known (the test remote parties of the RTDS keystore).
    ``access_control_broker``: the ACB's system title, whose key protects remote
    parties' commands; ``devices``: the system titles known to be devices (their
    certificates have the GBCS device profile: an empty subject)."""

    private: dict[str, ec.EllipticCurvePrivateKey] = field(default_factory=dict)
    public: dict[str, ec.EllipticCurvePublicKey] = field(default_factory=dict)
    access_control_broker: str | None = None
    devices: set[str] = field(default_factory=set)

    def parties(self, apdu: GeneralSigning) -> tuple[str, str]:
        """Whose KA keys protect ``apdu``: the ACB and the recipient for a remote party's
        command (when the ACB is named), originator and recipient otherwise."""
        if apdu.cra_flag == CRA_COMMAND and self.access_control_broker is not None \
                and apdu.originator not in self.devices:
            return self.access_control_broker, apdu.recipient
        return apdu.originator, apdu.recipient

    def pair(
        self, one: str, other: str
    ) -> tuple[ec.EllipticCurvePrivateKey, ec.EllipticCurvePublicKey] | None:
        """A private key of one party and the public key of the other, if known."""
        for mine, theirs in ((one, other), (other, one)):
            private, public = self.private.get(mine), self.public.get(theirs)
            if private is not None and public is not None:
                return private, public
        return None


def derive_key(
    private_key: ec.EllipticCurvePrivateKey,
    public_key: ec.EllipticCurvePublicKey,
    apdu: GeneralSigning,
) -> bytes:
    """The AES-128 key of one message: ECDH, then the GBCS concatenation KDF."""
    shared = private_key.exchange(ec.ECDH(), public_key)
    other_info = (
        ALGORITHM_ID
        + bytes.fromhex(apdu.originator)
        + encode_value(apdu.transaction_id)
        + bytes.fromhex(apdu.recipient)
    )
    return hashlib.sha256(KDF_ROUND + shared + other_info).digest()[:AES_KEY_SIZE]


def compute_gmac(data: bytes, key: bytes) -> bytes:
    """The 12-byte tag the 0xDD message ``data`` should end with, under ``key``.

    GBCS sends General Ciphering authenticated only (security header 0x11, the inner APDU
    in clear); the header byte is authenticated, so any other value fails the check."""
    wrapper, inner_at, _ = decode_general_ciphering(data)
    security_at = inner_at - 5
    empty_fields = data[1 : 1 + len(CIPHERING_EMPTY_FIELDS)]
    authenticated = data[security_at : security_at + 1] + empty_fields + \
        data[inner_at : len(data) - GMAC_TAG_SIZE]
    iv = bytes.fromhex(wrapper.apdu.originator) + wrapper.invocation_counter.to_bytes(4, "big")
    encryptor = Cipher(algorithms.AES(key), modes.GCM(iv)).encryptor()
    encryptor.authenticate_additional_data(authenticated)
    encryptor.finalize()
    return encryptor.tag[:GMAC_TAG_SIZE]


def gmac_status(data: bytes, keys: KeyAgreementKeys) -> str:
    """``valid``, ``invalid`` or ``no key`` for a 0xDD message.

    ``no key``: neither party's private KA key is known with the other's public key.
    """
    wrapper, _, _ = decode_general_ciphering(data)
    apdu = wrapper.apdu
    pair = keys.pair(*keys.parties(apdu))
    if pair is None:
        return GMAC_NO_KEY
    expected = compute_gmac(data, derive_key(*pair, apdu))
    return GMAC_VALID if expected == wrapper.gmac_tag else GMAC_INVALID
