"""DUIS: the XML in which the DCC (and DCC Boxed) hands a supplier its devices' GBCS.

Why the suite reads it: a supplier's test team never holds GBCS as bare hex; responses
and alerts reach it as DUIS ``Response`` documents, pushed over HTTP to its receive
endpoint. Element names are those of the DUIS XML schema (``DUIS Schema V5.1.xsd`` as
SmartDCCInnovation/dccboxed-signing-tool publishes it), namespace
``http://www.dccinterface.co.uk/ServiceUserGateway``::

    Response(@schemaVersion)
      Header: RequestID?, ResponseID?, ResponseCode, ResponseDateTime
      Body: one of
        ResponseMessage: ServiceReference, ServiceReferenceVariant, then at most one of
          GBCSPayload | LocalCommand/GBCSPayload | PreCommand/(GBCSVersion, GBCSPayload)
          | FutureDatedDeviceAlertMessage/(FutureDatedAlertCode, GBCSPayload, ...)
          | DSPScheduledMessage/GBCSPayload | CINMessage/GBCSPayload | (no GBCS)
        DeviceAlertMessage: AlertCode (hex), ThrottledAlert..., GBCSPayload (base64)
        DCCAlertMessage: DCCAlertCode, ThrottledAlert..., DCCAlert (no GBCS)
      ds:Signature? (XML signature, namespace http://www.w3.org/2000/09/xmldsig#)

A message's time is its header's ``ResponseDateTime``; ``RequestID`` / ``ResponseID``
(``originator:target:counter``, EUI-64s written ``90-B3-D5-1F-30-01-00-00``) name the
parties and pair a response with its request. Several ``Response`` documents may share
one text (concatenated, or under any wrapper element).

Parsing is hardened the way defusedxml does it: a DOCTYPE or an entity declaration is
refused (no entity expansion, no external fetch), and expat builds the tree directly.
``write_duis`` writes the Responses the suite's emulated DCC sends (device alerts and
device responses, GBCS as base64), element for element as the schema orders them.

Text or bytes in, no I/O; the XML signature is reported present or absent, not checked.
"""

from __future__ import annotations

import base64
import binascii
import re
import xml.parsers.expat
from dataclasses import dataclass
from datetime import UTC, datetime
from xml.etree.ElementTree import (
    Element,
    SubElement,
    TreeBuilder,
    register_namespace,
    tostring,
)

SR = "http://www.dccinterface.co.uk/ServiceUserGateway"
DS = "http://www.w3.org/2000/09/xmldsig#"
DEVICE_ALERT = "DeviceAlertMessage"
RESPONSE = "ResponseMessage"
DCC_ALERT = "DCCAlertMessage"
GBCS_HOLDERS = ("LocalCommand", "PreCommand", "FutureDatedDeviceAlertMessage",
                "DSPScheduledMessage", "CINMessage")
"""ResponseMessage children that carry a GBCSPayload of their own."""
register_namespace("sr", SR)  # written documents use the DCC's prefix
XML_DECLARATION = re.compile(r"<\?xml[^>]*\?>")
DECLARATIONS = re.compile(r"<!\s*(DOCTYPE|ENTITY)", re.IGNORECASE)
REQUEST_ID = re.compile(r"([0-9A-Fa-f]{2}(?:-[0-9A-Fa-f]{2}){7}):"
                        r"([0-9A-Fa-f]{2}(?:-[0-9A-Fa-f]{2}){7}):(\d+)")


class DuisError(ValueError):
    """A text that is not usable DUIS: malformed XML, a refused construct, a missing or
    malformed element. Says which document and element."""


@dataclass(frozen=True, slots=True)
class DuisId:
    """A RequestID or ResponseID: ``originator:target:counter``, EUI-64s as 16 hex
    digits (upper case)."""

    originator: str
    target: str
    counter: int

    def __str__(self) -> str:
        return f"{self.originator}:{self.target}:{self.counter}"

    def xml_text(self) -> str:
        """As DUIS writes it: ``90-B3-D5-1F-30-01-00-00:00-DB-...:1007``."""
        def dashed(title: str) -> str:
            return "-".join(title[i : i + 2] for i in range(0, 16, 2))
        return f"{dashed(self.originator)}:{dashed(self.target)}:{self.counter}"


@dataclass(frozen=True, slots=True)
class DuisMessage:
    """One DUIS Response as the suite keeps it.

    ``body`` is the Body's element (``DeviceAlertMessage``, ``ResponseMessage``,
    ``DCCAlertMessage``, ...); ``gbcs`` the decoded GBCSPayload or None (a DCC alert, an
    acknowledgement); ``gbcs_holder`` the element that held it inside a ResponseMessage
    (``LocalCommand``, ``PreCommand``, ...) or None; ``alert_code`` the AlertCode /
    DCCAlertCode / FutureDatedAlertCode as written; ``time`` the ResponseDateTime in UNIX
    seconds.
    """

    body: str
    response_code: str
    response_date_time: str
    time: float
    request_id: DuisId | None = None
    response_id: DuisId | None = None
    service_reference: str | None = None
    service_reference_variant: str | None = None
    alert_code: str | None = None
    gbcs: bytes | None = None
    gbcs_holder: str | None = None
    schema_version: str | None = None
    xml_signature: bool = False
    position: int = 0

    def describe(self) -> str:
        """One line: DUIS body, variant or alert code, ids, signature presence."""
        what = self.body
        if self.service_reference_variant:
            what += f" SRV {self.service_reference_variant}"
        if self.gbcs_holder:
            what += f" ({self.gbcs_holder})"
        if self.alert_code:
            what += f" alert {self.alert_code}"
        ids = [f"{name} {value}" for name, value in
               (("RequestID", self.request_id), ("ResponseID", self.response_id)) if value]
        signature = "XML signature present" if self.xml_signature else "no XML signature"
        return f"DUIS {what} {self.response_code} at {self.response_date_time}; " + \
            "; ".join([*ids, signature])


def _refuse(construct: str) -> object:
    def handler(*_: object) -> None:
        raise DuisError(f"{construct} refused: DUIS needs none, and entities are an attack")
    return handler


def parse_xml(text: str | bytes) -> Element:
    """The element tree of ``text``, refusing DTDs and entity declarations.

    Several documents in one text are read under a synthetic root (their XML
    declarations dropped), so a file of concatenated DUIS responses parses too.
    """
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8-sig")
        except UnicodeDecodeError as error:
            raise DuisError(f"not UTF-8 text: {error}") from None
    refused = DECLARATIONS.search(text)
    if refused is not None:
        raise DuisError(f"{refused.group(1).upper()} declaration refused: DUIS needs none, "
                        "and entities are an attack")
    body = XML_DECLARATION.sub("", text)
    builder = TreeBuilder()
    parser = xml.parsers.expat.ParserCreate(namespace_separator="}")
    parser.StartDoctypeDeclHandler = _refuse("DOCTYPE declaration")
    parser.EntityDeclHandler = _refuse("entity declaration")
    parser.UnparsedEntityDeclHandler = _refuse("entity declaration")
    parser.ExternalEntityRefHandler = _refuse("external entity")

    def qualified(name: str) -> str:
        return "{" + name if "}" in name else name

    parser.StartElementHandler = lambda name, attributes: builder.start(
        qualified(name), {qualified(key): value for key, value in attributes.items()})
    parser.EndElementHandler = lambda name: builder.end(qualified(name))
    parser.CharacterDataHandler = builder.data
    try:
        parser.Parse(f"<documents>{body}</documents>", True)
    except xml.parsers.expat.ExpatError as error:
        raise DuisError(f"malformed XML: {xml.parsers.expat.ErrorString(error.code)} "
                        f"(line {error.lineno}, column {error.offset})") from None
    return builder.close()


def _child(element: Element, name: str) -> Element | None:
    return element.find(f"{{{SR}}}{name}")


def _text(element: Element, name: str, where: str, required: bool = True) -> str | None:
    child = _child(element, name)
    if child is None or not (child.text or "").strip():
        if required:
            raise DuisError(f"{where}: no {name}")
        return None
    return (child.text or "").strip()


def _duis_id(text: str | None, name: str, where: str) -> DuisId | None:
    if text is None:
        return None
    match = REQUEST_ID.fullmatch(text)
    if match is None:
        raise DuisError(f"{where}: {name} {text!r} is not originator:target:counter")
    originator, target, counter = match.groups()
    return DuisId(originator.replace("-", "").upper(), target.replace("-", "").upper(),
                  int(counter))


def duis_time(text: str, where: str = "Header") -> float:
    """An xs:dateTime as UNIX seconds; without a zone it is read as UTC (the DCC writes
    ``Z``). Sub-second digits are kept to the microsecond, as the suite's hex files
    keep them, so a time round-trips exactly through either form."""
    try:
        moment = datetime.fromisoformat(text.replace("z", "Z"))
    except ValueError:
        raise DuisError(f"{where}: ResponseDateTime {text!r} is not an xs:dateTime") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    whole = int(moment.replace(microsecond=0).timestamp())
    return float(f"{whole}.{moment.microsecond:06d}")


def format_duis_time(unix: float) -> str:
    """UNIX seconds as the ResponseDateTime the suite writes (UTC, microseconds)."""
    whole, fraction = f"{unix:.6f}".split(".")
    moment = datetime.fromtimestamp(int(whole), UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S") + f".{fraction}Z"


def _gbcs(holder: Element, where: str) -> bytes | None:
    text = _text(holder, "GBCSPayload", where, required=False)
    if text is None:
        return None
    try:
        return base64.b64decode("".join(text.split()), validate=True)
    except binascii.Error:
        raise DuisError(f"{where}: GBCSPayload is not base64") from None


def _response(element: Element, position: int) -> DuisMessage:
    where = f"Response {position}"
    header = _child(element, "Header")
    body = _child(element, "Body")
    if header is None or body is None:
        raise DuisError(f"{where}: needs a Header and a Body")
    content = next(iter(body), None)
    if content is None or not content.tag.startswith(f"{{{SR}}}"):
        raise DuisError(f"{where}: the Body holds no DUIS element")
    kind = content.tag.split("}", 1)[1]
    where = f"{where} {kind}"
    stamp = _text(header, "ResponseDateTime", f"{where} Header") or ""
    fields: dict[str, object] = {}
    if kind == DEVICE_ALERT:
        fields["alert_code"] = _text(content, "AlertCode", where)
        fields["gbcs"] = _gbcs(content, where)
        if fields["gbcs"] is None:
            raise DuisError(f"{where}: no GBCSPayload")
    elif kind == DCC_ALERT:
        fields["alert_code"] = _text(content, "DCCAlertCode", where)
    elif kind == RESPONSE:
        fields["service_reference"] = _text(content, "ServiceReference", where)
        fields["service_reference_variant"] = _text(content, "ServiceReferenceVariant", where)
        fields["gbcs"] = _gbcs(content, where)
        for holder_name in GBCS_HOLDERS:
            holder = _child(content, holder_name)
            if holder is not None and fields["gbcs"] is None:
                fields["gbcs"] = _gbcs(holder, f"{where} {holder_name}")
                fields["gbcs_holder"] = holder_name
                fields["alert_code"] = _text(holder, "FutureDatedAlertCode", where,
                                             required=False)
    return DuisMessage(
        body=kind,
        response_code=_text(header, "ResponseCode", f"{where} Header") or "",
        response_date_time=stamp,
        time=duis_time(stamp, f"{where} Header"),
        request_id=_duis_id(_text(header, "RequestID", where, required=False),
                            "RequestID", where),
        response_id=_duis_id(_text(header, "ResponseID", where, required=False),
                             "ResponseID", where),
        schema_version=element.get("schemaVersion"),
        xml_signature=element.find(f"{{{DS}}}Signature") is not None,
        position=position,
        **fields,  # type: ignore[arg-type]
    )


def looks_like_xml(text: str | bytes) -> bool:
    """Whether a text is XML rather than hex or base64 (its first character is ``<``)."""
    head = text[:64].lstrip() if isinstance(text, str) else \
        text[:64].lstrip(b"\xef\xbb\xbf \t\r\n").decode("latin-1")
    return head.startswith("<")


def parse_duis(text: str | bytes) -> list[DuisMessage]:
    """Every DUIS Response of a text, in document order."""
    root = parse_xml(text)
    responses = list(root.iter(f"{{{SR}}}Response"))
    if not responses:
        found = sorted({child.tag for child in root})
        raise DuisError(f"no DUIS Response (namespace {SR}) in the XML; found {found}")
    return [_response(element, position) for position, element in enumerate(responses)]


def _add(parent: Element, name: str, text: str | None = None) -> Element:
    child = SubElement(parent, f"{{{SR}}}{name}")
    if text is not None:
        child.text = text
    return child


def write_duis(message: DuisMessage) -> str:
    """A DUIS Response document for a device alert or a device response.

    ``response_date_time`` is written as given (``format_duis_time`` makes one from UNIX
    seconds); a ResponseMessage's GBCS goes in ``gbcs_holder`` (e.g. ``LocalCommand``)
    when one is named, else directly in its GBCSPayload."""
    if message.body not in (DEVICE_ALERT, RESPONSE):
        raise ValueError(f"write_duis writes {DEVICE_ALERT} and {RESPONSE}, not {message.body}")
    root = Element(f"{{{SR}}}Response", {"schemaVersion": message.schema_version or "5.1"})
    header = _add(root, "Header")
    if message.request_id is not None:
        _add(header, "RequestID", message.request_id.xml_text())
    if message.response_id is not None:
        _add(header, "ResponseID", message.response_id.xml_text())
    _add(header, "ResponseCode", message.response_code)
    _add(header, "ResponseDateTime", message.response_date_time)
    content = _add(_add(root, "Body"), message.body)
    payload = base64.b64encode(message.gbcs).decode("ascii") if message.gbcs else None
    if message.body == DEVICE_ALERT:
        if message.alert_code is None or payload is None:
            raise ValueError("a DeviceAlertMessage needs an AlertCode and a GBCSPayload")
        _add(content, "AlertCode", message.alert_code)
        _add(content, "GBCSPayload", payload)
    else:
        if message.service_reference is None or message.service_reference_variant is None:
            raise ValueError("a ResponseMessage needs its ServiceReference and variant")
        _add(content, "ServiceReference", message.service_reference)
        _add(content, "ServiceReferenceVariant", message.service_reference_variant)
        if payload is not None:
            holder = _add(content, message.gbcs_holder) if message.gbcs_holder else content
            _add(holder, "GBCSPayload", payload)
    text = tostring(root, encoding="unicode", xml_declaration=False)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + text + "\n"
