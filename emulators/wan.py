"""The WAN side of the emulated Comms Hub: GBCS messages to and from the suppliers.

Why here and not in layers: the layers build and sign any GBCS message; this module
holds what only the emulator knows: the CHF's test signing key (emulators/keys), its
originator counter, and the log of every message that crossed the WAN, in virtual time.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from hanota.emulators.clock import VirtualClock
from hanota.layers.der import NULL
from hanota.layers.gbcs import (
    build_ccs08_alert,
    build_cs08_alert,
    decode_gbcs,
    load_certificate_pem,
    load_private_key_pem,
)
from hanota.layers.gbcs_apdu import (
    CRA_COMMAND,
    CRA_RESPONSE,
    GMAC_TAG_SIZE,
    SECURITY_HEADER_AUTHENTICATED,
    GeneralCiphering,
    GeneralSigning,
    encode_general_ciphering,
)
from hanota.layers.gbcs_payloads import MESSAGE_CODE_CS08, Cs08Response, encode_payload

ACCESS_CONTROL_BROKER = "90B3D51F30010000"  # supplementary remote party of routed commands
# The GMAC of the 0xDD wrapper needs the parties' key-agreement keys, which the emulated
# HAN does not model: the tag is sent as zeros (the suite does not check it).
UNCHECKED_GMAC = bytes(GMAC_TAG_SIZE)


@dataclass(frozen=True)
class WanMessage:
    """One GBCS message that crossed the WAN. kind: "command" | "response" | "alert"."""

    time: float
    sender: str
    recipient: str
    kind: str
    data: bytes


def chf_signing_key() -> ec.EllipticCurvePrivateKey:
    return load_private_key_pem(resources.files("hanota.emulators").joinpath("keys/chf-test-ds.key")
                                .read_bytes())


def chf_certificate() -> x509.Certificate:
    """The certificate that verifies the emulated CHF's alerts (VER-6)."""
    return load_certificate_pem(resources.files("hanota.emulators").joinpath("keys/chf-test-ds.pem")
                                .read_bytes())


def cs08_command(supplier: str, device: str, counter: int) -> bytes:
    """SR 11.2: the supplier's CS08 command (0xDD wrapper, 0x0129, ASN.1 NULL), routed by
    the access control broker as in the RTDS vector."""
    apdu = GeneralSigning(
        cra_flag=CRA_COMMAND,
        originator_counter=counter,
        originator=supplier,
        recipient=device,
        message_code=MESSAGE_CODE_CS08,
        content=NULL,
        supplementary_remote_party_id=ACCESS_CONTROL_BROKER,
        supplementary_remote_party_counter=counter,
    )
    return encode_general_ciphering(
        GeneralCiphering(SECURITY_HEADER_AUTHENTICATED, 0, apdu, UNCHECKED_GMAC)
    )


class Wan:
    """The CHF's WAN link: builds, signs and logs its messages."""

    def __init__(self, clock: VirtualClock, chf_eui64: str) -> None:
        self.clock = clock
        self.chf = chf_eui64
        self.messages: list[WanMessage] = []
        self._key = chf_signing_key()
        self._counter = 0x1000

    def _next_counter(self) -> int:
        self._counter += 1
        return self._counter

    def log(self, sender: str, recipient: str, kind: str, data: bytes) -> None:
        self.messages.append(WanMessage(self.clock.unix, sender, recipient, kind, data))

    def ccs08(
        self, recipient: str, entity: str, version: int, alert_code: int, response_code: int,
        *, signed: bool = True,
    ) -> None:
        data = build_ccs08_alert(
            originator=self.chf, recipient=recipient, counter=self._next_counter(),
            time=self.clock.datetime().replace(microsecond=0), alert_code=alert_code,
            entity_id=entity, firmware_version=version, response_code=response_code,
            private_key=self._key if signed else None,
        )
        self.log(self.chf, recipient, "alert", data)

    def cs08_alert(
        self, recipient: str, version: int, activate_image: int, *, signed: bool = True
    ) -> None:
        data = build_cs08_alert(
            originator=self.chf, recipient=recipient, counter=self._next_counter(),
            time=self.clock.datetime().replace(microsecond=0), firmware_version=version,
            activate_image=activate_image, private_key=self._key if signed else None,
        )
        self.log(self.chf, recipient, "alert", data)

    def cs08_response(self, command: bytes, version: int, response_code: int) -> None:
        """Answer a CS08 command: same counter and routing, originator the device read."""
        asked = decode_gbcs(command).apdu
        apdu = GeneralSigning(
            cra_flag=CRA_RESPONSE,
            originator_counter=asked.originator_counter,
            originator=asked.recipient,
            recipient=asked.originator,
            message_code=MESSAGE_CODE_CS08,
            content=encode_payload(Cs08Response(version.to_bytes(4, "big"), response_code)),
            supplementary_remote_party_id=asked.supplementary_remote_party_id,
            supplementary_remote_party_counter=asked.supplementary_remote_party_counter,
        )
        data = encode_general_ciphering(
            GeneralCiphering(SECURITY_HEADER_AUTHENTICATED, 0, apdu, UNCHECKED_GMAC)
        )
        self.log(self.chf, asked.originator, "response", data)
