"""A directory of GBCS certificates and keys, as the DCC's RTDS and DCC Boxed lay it out.

Why here (targets, not layers): it reads files. Names are ``<system title>-ds.pem``
(digital-signing certificate: checks signatures), ``<system title>-ka.pem`` (key-agreement
certificate, or a bare public key) and ``<system title>-ka.key`` (a remote party's KA
private key: with it the 0xDD GMAC can be checked), system titles in lower-case hex.
``-pp-ka`` files (a supplier's prepayment top-up KA key) protect no GBCS message and are
skipped. A directory without those names still works for signatures: a ``*.pem`` whose
subject names the system title is used (the emulator's test certificate).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from hanota.layers.gbcs import load_certificate_pem, load_private_key_pem
from hanota.layers.gbcs_gmac import KeyAgreementKeys

RTDS_ACCESS_CONTROL_BROKER = "90B3D51F30000002"
"""The ACB of the RTDS and of DCC Boxed (role 4 in its keystore): it protects commands."""
NAMED = re.compile(r"([0-9a-fA-F]{16})-(ds|ka)\.(pem|key)")


@dataclass
class Keystore:
    """Signing certificates and key-agreement keys by system title (upper-case hex)."""

    directory: Path
    signing: dict[str, x509.Certificate] = field(default_factory=dict)
    key_agreement: KeyAgreementKeys = field(default_factory=KeyAgreementKeys)

    def signing_certificate(self, title: str) -> x509.Certificate | None:
        """The originator's DS certificate: by name, else a ``*.pem`` naming the title."""
        title = title.upper()
        if title in self.signing:
            return self.signing[title]
        for candidate in sorted(self.directory.glob("*.pem")):
            try:
                certificate = load_certificate_pem(candidate.read_bytes())
            except ValueError:
                continue
            if title.lower() in certificate.subject.rfc4514_string().lower():
                self.signing[title] = certificate
                return certificate
        return None


def _public_key(pem: bytes) -> tuple[ec.EllipticCurvePublicKey, bool]:
    """A KA public key from a certificate or a bare key; and whether the certificate has
    the GBCS device profile (empty subject)."""
    if b"CERTIFICATE" in pem:
        certificate = load_certificate_pem(pem)
        key = certificate.public_key()
        device = len(certificate.subject.rdns) == 0
    else:
        key = serialization.load_pem_public_key(pem)
        device = False
    if not isinstance(key, ec.EllipticCurvePublicKey):
        raise ValueError("GBCS key-agreement keys are ECDH P-256")
    return key, device


def load_keystore(directory: Path,
                  access_control_broker: str | None = RTDS_ACCESS_CONTROL_BROKER) -> Keystore:
    """Every certificate and key of ``directory`` named as above; others are ignored."""
    if not directory.is_dir():
        raise ValueError(f"{directory} is not a directory")
    keystore = Keystore(directory, key_agreement=KeyAgreementKeys(
        access_control_broker=access_control_broker.upper() if access_control_broker else None))
    keys = keystore.key_agreement
    for path in sorted(directory.iterdir()):
        match = NAMED.fullmatch(path.name)
        if match is None:
            continue
        title, use, kind = match.group(1).upper(), match.group(2), match.group(3)
        try:
            pem = path.read_bytes()
            if use == "ds" and kind == "pem":
                certificate = load_certificate_pem(pem)
                keystore.signing[title] = certificate
                if len(certificate.subject.rdns) == 0:
                    keys.devices.add(title)
            elif use == "ka" and kind == "pem":
                keys.public[title], device = _public_key(pem)
                if device:
                    keys.devices.add(title)
            elif use == "ka":
                keys.private[title] = load_private_key_pem(pem)
        except ValueError as error:
            raise ValueError(f"{path}: {error}") from error
    return keystore
