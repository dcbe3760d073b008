"""Named fault profiles: one deliberate departure from SECMP0007 per profile.

Why named and catalogued: the suite's own tests run every exchange under every profile
and expect exactly the scenarios of the broken requirement to fail, so each profile says
which ONE requirement it breaks. The behaviour itself lives in the node logic as an
explicit ``has_fault(name)`` hook at the one place where the node departs.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FaultProfile:
    """A behaviour selectable per node: ``side`` is "chf" or "device"."""

    name: str
    side: str
    requirement: str
    description: str


_DEVICE = (
    ("ignores-notify", "NOTIFY-2", "does not send Query Next Image Request after Image Notify"),
    ("skips-offset", "FRAG-1", "jumps one block ahead once: the requested offsets have a gap"),
    ("overlap", "FRAG-1", "once asks for a range overlapping what it already holds (half "
     "a block back), not a retry of the same offset"),
    ("ignores-wait-for-data", "FRAG-2",
     "re-requests at its normal pace after WAIT_FOR_DATA instead of waiting for request_time"),
    ("no-pacing", "FRAG-3", "requests the next block as soon as a block arrives"),
    ("restarts-from-zero", "FRAG-4", "after a reset or a time-out starts again at offset 0"),
    ("single-part-end", "FRAG-5",
     "answers Upgrade End Request SUCCESS instead of REQUIRE_MORE_IMAGE on a non-last part"),
    ("reports-old-version", "ACT-2", "after the restart its CurrentFileVersion is the old one"),
    ("accepts-invalid-image", "ACT-3", "answers SUCCESS and activates an image whose integrity "
     "code is wrong"),
    ("accepts-downgrade", "ACT-4", "downloads and activates a lower version although its PICS "
     "says it refuses downgrades"),
    ("downgrade-at-readback", "ACT-4", "refuses a downgrade by Upgrade End Request ABORT, "
     "then restarts into the lower version: the read-back shows it"),
    ("silent-after-event", "VER-5", "announces its new version but does not answer the read"),
    ("answers-cad-notify", "BAN-1", "answers an Image Notify from a node other than its "
     "UpgradeServerID with Query Next Image Request to that node"),
    ("obeys-cad-responses", "BAN-2", "downloads from a node other than its UpgradeServerID "
     "when it offers an image unsolicited"),
)

_CHF = (
    ("never-notifies", "NOTIFY-1", "holds the image but never sends Image Notify"),
    ("serves-wrong-version", "NOTIFY-2",
     "Query Next Image Response carries a file version other than the held image's"),
    ("serves-non-target", "NOTIFY-3", "offers the held image to a device it is not for"),
    ("notify-non-target", "NOTIFY-3", "also sends a unicast Image Notify of the held image to "
     "a device it is not for (interpretation: costs HAN bandwidth, PIXIT switch)"),
    ("ignores-hw-version", "NOTIFY-4", "offers the image whatever hardware version is sent"),
    ("requires-hw-version", "NOTIFY-5",
     "answers NO_IMAGE_AVAILABLE to a Query Next Image Request without hardware version"),
    ("wrong-offset", "FRAG-1", "once serves a block from an offset other than the requested"),
    ("bad-wait-for-data", "FRAG-2",
     "WAIT_FOR_DATA with request_time before current_time and no minimum block period"),
    ("starves-han", "FRAG-6", "does not answer other HAN traffic (meter reads) while serving"),
    ("no-large-image-split", "FRAG-5",
     "serves an image above the image store limit as one OTA file"),
    ("delayed-activation", "ACT-1", "Upgrade End Response with upgrade_time in the future"),
    ("never-reads-back", "VER-1", "does not read CurrentFileVersion after the activation"),
    ("success-on-mismatch", "VER-2",
     "CS08 alert says Success with a version other than the one it read"),
    ("wrong-alert-code", "VER-3", "CCS08 alert and response codes inverted (success reported "
     "as 0x8F89 File Transfer Failure, failure as 0x8F8A Success)"),
    ("sr112-from-cache", "VER-4", "answers the CS08 command from its cache without reading"),
    ("unsigned-alert", "VER-6", "GBCS alerts carry no signature"),
    ("serves-ihd", "SCOPE-2", "accepts an image for an IHD and offers it to the IHD"),
    ("mixes-images", "CONC-1", "serves the PPMID's image to the HCALCS too"),
    ("alerts-wrong-supplier", "CONC-2",
     "addresses every alert to the first supplier, whoever requested the update"),
)

PROFILES: dict[str, FaultProfile] = {
    name: FaultProfile(name, side, requirement, description)
    for side, table in (("device", _DEVICE), ("chf", _CHF))
    for name, requirement, description in table
}
