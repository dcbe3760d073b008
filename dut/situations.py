"""The situations a scenario is judged in: what a test house sets up and records.

Why situations and not emulator exchanges: a scenario reads the same on every target.
"Given a capture of a hardware-version mismatch" is something a test house can set up on
its own kit; the emulator maps it to one of its exchanges, a capture set to the files
recorded for it (``situations.toml``), a live run to the window it is watching. The
phrase is what the Gherkin says; the id is what a capture set and the checklist use.
"""

from __future__ import annotations

from dataclasses import dataclass

from hanota.dut.description import Dut


@dataclass(frozen=True)
class Situation:
    """One situation: ``phrase`` as the Gherkin writes it after "a capture of";
    ``setup`` what the test house does to record it; ``exchange`` the emulator's run of
    it; ``needs`` the PICS options without which no scenario asks for it; ``stimulus``
    whether something must be injected (a rogue node, a bad image, a lossy link)."""

    id: str
    phrase: str
    setup: str
    exchange: str
    needs: tuple[str, ...] = ()
    stimulus: bool = False


SITUATIONS: tuple[Situation, ...] = (
    Situation("upgrade", "a conformant upgrade of the PPMID",
              "deliver an ordinary newer image for the PPMID (SR 11.1) and record until the "
              "CS08 alert; the HCALCS asks for an image meanwhile (NOTIFY-3); a meter read "
              "during the download (FRAG-6)", "upgrade"),
    Situation("two-devices", "a PPMID and an HCALCS upgraded at once for two suppliers",
              "the two responsible suppliers each deliver an image, one for the PPMID, one "
              "for the HCALCS, so the downloads overlap", "two-devices", stimulus=True),
    Situation("large-image", "a large image for the PPMID, above the store limit",
              "deliver an image larger than PIXIT image_store_limit", "upgrade-large",
              ("large_image_process",)),
    Situation("hardware-mismatch", "an image whose hardware range excludes the PPMID",
              "deliver an image whose hardware version range excludes the PPMID's",
              "upgrade-hw-mismatch", ("hardware_version_sent",), stimulus=True),
    Situation("no-hardware-version", "an upgrade of a PPMID that sends no hardware version",
              "upgrade a PPMID whose Query Next Image Request carries no hardware version",
              "upgrade-no-hw-version"),
    Situation("corrupt-image", "a corrupt image for the PPMID",
              "deliver an image whose integrity code (or signature) is wrong",
              "upgrade-invalid-image", stimulus=True),
    Situation("interrupted", "an upgrade of the PPMID interrupted by lost frames and a reset",
              "attenuate the link (about 10 % loss) and reset the PPMID mid-download",
              "upgrade-lossy", stimulus=True),
    Situation("abandoned", "an upgrade the Comms Hub stops serving half way",
              "stop the Comms Hub serving blocks half way (isolate its WAN or its image "
              "store), then record until the device gives up and the CCS08 alert",
              "upgrade-abandoned", stimulus=True),
    Situation("rollback", "an image with a lower file version for the PPMID",
              "deliver an image with a file version below the one the PPMID runs",
              "downgrade", stimulus=True),
    Situation("sr-11-2", "SR 11.2 reads of the PPMID, the second while it is off",
              "send SR 11.2 (CS08 command) for the PPMID; switch the PPMID off and send it "
              "again", "read-version", stimulus=True),
    Situation("rogue-node", "a rogue node offering the PPMID firmware, then a genuine upgrade",
              "let a CAD or crafted node send the PPMID an Image Notify and unsolicited OTA "
              "responses, then deliver a genuine image through the Comms Hub", "rogue-cad",
              stimulus=True),
    Situation("ihd-image", "an image for the IHD",
              "request an update of the IHD; the IHD asks for an image", "ihd-refused",
              stimulus=True),
    Situation("version-event", "an upgrade of a PPMID that announces its new version",
              "upgrade a PPMID that reports its CurrentFileVersion itself after the restart",
              "version-event"),
)

BY_ID = {situation.id: situation for situation in SITUATIONS}
BY_PHRASE = {situation.phrase: situation for situation in SITUATIONS}


def by_phrase(phrase: str) -> Situation:
    """The situation the Gherkin names; a phrase no situation has is a defect of the
    feature file, said with the phrases there are."""
    found = BY_PHRASE.get(phrase.strip())
    if found is None:
        known = "; ".join(sorted(BY_PHRASE))
        raise ValueError(f"no situation {phrase!r}; the situations are: {known}")
    return found


def wanted(dut: Dut) -> list[Situation]:
    """The situations this DUT's PICS calls for (those needing an option it does not
    claim are left out: their scenarios are NOT APPLICABLE)."""
    return [s for s in SITUATIONS if all(getattr(dut.pics, option) for option in s.needs)]
