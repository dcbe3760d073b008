"""The requirement ids of SECMP0007 the suite covers, with their area and a short title.

Copied from shared/domain/requirements.md so the suite and its tests work without the
shared folder; tests compare this list with the domain file when it is present.
"""

from __future__ import annotations

from dataclasses import dataclass

AREAS: dict[str, str] = {
    "SCOPE": "scope",
    "NOTIFY": "notification",
    "FRAG": "block_transfer",
    "ACT": "activation",
    "VER": "version_report",
    "BAN": "local_upgrade_ban",
    "CONC": "concurrency",
}

REQUIREMENTS: dict[str, str] = {
    "SCOPE-1": "OTA via the CHF is available to PPMIDs and HCALCS",
    "SCOPE-2": "IHDs are out of scope: no image offered, requests refused",
    "SCOPE-3": "standard ZigBee OTA cluster, nothing more asked of the device",
    "NOTIFY-1": "the CHF sends the target a unicast Image Notify",
    "NOTIFY-2": "device queries on notify; CHF answers SUCCESS with the image's identity",
    "NOTIFY-3": "a device that is not the target gets NO_IMAGE_AVAILABLE",
    "NOTIFY-4": "hardware version out of range: NO_IMAGE_AVAILABLE and CCS08 code 2",
    "NOTIFY-5": "the hardware version stays optional",
    "FRAG-1": "block requests/responses cover the file exactly, byte for byte",
    "FRAG-2": "WAIT_FOR_DATA: the device waits until the request time, same offset",
    "FRAG-3": "the device paces requests by the minimum block period",
    "FRAG-4": "interrupted downloads resume; unfinished ones never activate",
    "FRAG-5": "large images go in parts, REQUIRE_MORE_IMAGE (interpretation)",
    "FRAG-6": "the CHF keeps serving other HAN traffic during a download",
    "ACT-1": "activation on download: upgrade now",
    "ACT-2": "the device runs the new version and stays on the HAN",
    "ACT-3": "a corrupt image is refused and reported",
    "ACT-4": "downgrades accepted or refused as the PICS declares",
    "VER-1": "the CHF reads CurrentFileVersion back after a time-out",
    "VER-2": "CS08 alert 0x8F8B with the version read and Success/Failure",
    "VER-3": "CCS08 alert 0x8F8A/0x8F89 with the response code of what happened",
    "VER-4": "SR 11.2: read on demand, Read Success or Read Failure",
    "VER-5": "a device announcing its version still answers the read (PICS)",
    "VER-6": "GBCS alerts are signed by the CHF and verify",
    "BAN-1": "Image Notify from another node is ignored",
    "BAN-2": "OTA responses from another node are ignored",
    "BAN-3": "version unchanged after a rogue attempt; genuine upgrade still works",
    "BAN-4": "combined PPMID/CAD internet update path: outside this suite",
    "CONC-1": "two devices at once each get their own image and alerts",
    "CONC-2": "alerts go to the supplier that requested the update",
}


@dataclass(frozen=True)
class Interpretation:
    """Our reading of a rule where SECMP0007's documents leave detail open.

    Why listed here: a conformance statement must mark a verdict that rests on a reading
    as such, name where the reading comes from, and say which DUT-description key turns
    it off or aligns it (``switch``: ``pics.NAME`` or ``pixit.NAME``), so a test house can
    argue the reading rather than the verdict.
    """

    requirement: str
    reading: str
    source: str
    switch: str


INTERPRETATIONS: dict[str, Interpretation] = {
    "FRAG-5": Interpretation(
        "FRAG-5",
        "an image above the CHF's image store limit goes as several OTA files; the device "
        "answers Upgrade End Request REQUIRE_MORE_IMAGE for every part but the last; the "
        "first part is activated now (upgrade time 0)",
        "shared/domain/requirements.md FRAG-5 (marked interpretation): WG Q7 E.ON's "
        "large-image diagram (750 KB and above); RC Q2 and Q8 Green Energy Options",
        "pics.large_image_process"),
    "NOTIFY-3": Interpretation(
        "NOTIFY-3",
        "besides NO_IMAGE_AVAILABLE to a device that is not the held image's target, a "
        "unicast Image Notify to such a device FAILs: it wastes HAN bandwidth",
        "shared/domain/requirements.md NOTIFY-3 (ZCL OTA) and NOTIFY-4's reason (WG Q1 "
        "SSE Networks, HAN capacity); verify/README.md section 3",
        "pixit.notify_non_target_fails"),
}
"""The requirements whose verdict rests (wholly or in part) on an interpretation."""


def area_of(requirement: str) -> str:
    return AREAS[requirement.split("-")[0]]
