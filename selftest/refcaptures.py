"""Reference captures (``make pcaps``): the committed captures in ``pcaps/`` and the
verdict every scenario must get when each is replayed.

Why expected verdicts are DECLARED here, not copied from a run: a manifest written from
the suite's own output would only show that the suite agrees with itself. The expected
verdicts come from three hand-written facts: which scenarios a conformant capture of each
exchange evidences (``EVIDENCE``, from the exchange descriptions of
``hanota.emulators.scenarios.SCENARIOS``), which requirement each fault profile breaks
(``PROFILES[...].requirement``) and what each profile's run no longer shows
(``PROFILE_CAPTURES``, its INCONCLUSIVE list). Everything else is NOT APPLICABLE where
the PICS says so, else INCONCLUSIVE. ``tests/test_reference_captures.py`` replays every
capture and compares.

Run: ``python -m hanota.selftest.refcaptures --out pcaps``.
"""

from __future__ import annotations

import argparse
import io
import json
import sys
import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from hanota.dut.description import Dut, load_dut
from hanota.dut.situations import SITUATIONS
from hanota.emulators import PROFILES, SCENARIOS, HanOptions, SnifferOptions, emulate
from hanota.selftest.suite import SuiteRun, run_suite
from hanota.targets.base import dut_keys
from hanota.targets.capture_set import SET_FILE
from hanota.targets.emulator import delivered_images, profile_nodes
from hanota.targets.pcap import read_capture
from hanota.targets.replay import write_gbcs_hex

ROOT = Path(__file__).resolve().parents[1]
CERTIFICATE = "emulators/keys/chf-test-ds.pem"
DUT_FILE = "dut.toml"
VERSION_EVENT_DUT_FILE = "dut-version-event.toml"
MANIFEST = "manifest.json"
PASS, FAIL, INCONCLUSIVE, NOT_APPLICABLE = "PASS", "FAIL", "INCONCLUSIVE", "NOT APPLICABLE"
FEATURES = "features/test_conformance.py::"

# Every scenario of features/, by a short name "REQUIREMENT/role/label" (label: the
# exchange its Examples row or When step names). The test checks this table against the
# scenarios a replay reports, so a new scenario cannot be left out.
SCENARIO_IDS: dict[str, str] = {
    'ACT-1/chf/upgrade':
        ('test_the_communications_hub_tells_the_kind_to_upgrade_now[PPMID-ppmid-a conformant u'
         'pgrade of the PPMID]'),
    'ACT-1/chf/two-devices':
        ('test_the_communications_hub_tells_the_kind_to_upgrade_now[HCALCS-hcalcs-a PPMID and '
         'an HCALCS upgraded at once for two suppliers]'),
    'ACT-2/device/upgrade':
        ('test_the_kind_runs_the_new_version_after_activation[PPMID-ppmid-a conformant upgrade'
         ' of the PPMID]'),
    'ACT-2/device/two-devices':
        ('test_the_kind_runs_the_new_version_after_activation[HCALCS-hcalcs-a PPMID and an HCA'
         'LCS upgraded at once for two suppliers]'),
    'ACT-3/device/upgrade-invalid-image':
        'test_the_device_refuses_a_corrupt_image',
    'ACT-3/chf/upgrade-invalid-image':
        'test_the_communications_hub_reports_a_refused_image',
    'ACT-4/device/downgrade':
        'test_a_rollback_behaves_as_the_device_declares',
    'FRAG-1/chf/upgrade':
        ('test_the_communications_hub_serves_exactly_the_requested_bytes_to_the_kind[PPMID-ppm'
         'id-a conformant upgrade of the PPMID]'),
    'FRAG-1/chf/two-devices':
        ('test_the_communications_hub_serves_exactly_the_requested_bytes_to_the_kind[HCALCS-hc'
         'alcs-a PPMID and an HCALCS upgraded at once for two suppliers]'),
    'FRAG-1/device/upgrade':
        ('test_the_kind_requests_the_whole_file_without_gaps_delivery[PPMID-ppmid-in one OTA f'
         'ile-a conformant upgrade of the PPMID]'),
    'FRAG-1/device/upgrade-large':
        ('test_the_kind_requests_the_whole_file_without_gaps_delivery[PPMID-ppmid-in parts-a l'
         'arge image for the PPMID, above the store limit]'),
    'FRAG-1/device/two-devices':
        ('test_the_kind_requests_the_whole_file_without_gaps_delivery[HCALCS-hcalcs-in one OTA'
         ' file-a PPMID and an HCALCS upgraded at once for two suppliers]'),
    'FRAG-2/chf/upgrade':
        'test_the_communications_hub_says_when_to_come_back',
    'FRAG-2/device/upgrade':
        'test_the_device_waits_when_told_wait_for_data',
    'FRAG-3/device/upgrade':
        ('test_the_kind_paces_its_block_requests[PPMID-ppmid-a conformant upgrade of the PPMID'
         ']'),
    'FRAG-3/device/two-devices':
        ('test_the_kind_paces_its_block_requests[HCALCS-hcalcs-a PPMID and an HCALCS upgraded '
         'at once for two suppliers]'),
    'FRAG-4/device/upgrade-lossy':
        'test_a_download_interrupted_by_losses_and_a_reset_resumes_where_it_stopped',
    'FRAG-4/device/upgrade-abandoned':
        'test_a_download_the_communications_hub_abandons_is_never_activated',
    'FRAG-5/device/upgrade-large':
        'test_the_device_takes_a_large_image_in_parts',
    'FRAG-5/chf/upgrade-large':
        'test_the_communications_hub_sends_a_large_image_in_parts',
    'FRAG-6/chf/upgrade':
        'test_other_han_traffic_is_served_during_a_download',
    'CONC-1/chf/two-devices':
        'test_a_ppmid_and_an_hcalcs_upgraded_at_once_each_get_their_own_image',
    'CONC-2/chf/two-devices':
        'test_each_supplier_is_told_about_the_update_it_requested',
    'BAN-1/device/rogue-cad':
        'test_an_image_notify_from_a_rogue_node_is_ignored',
    'BAN-2/device/rogue-cad':
        'test_ota_responses_from_a_rogue_node_are_ignored',
    'BAN-3/device/rogue-cad':
        'test_a_rogue_attempt_changes_nothing_and_a_genuine_upgrade_still_works',
    'BAN-4/device/-':
        'test_the_internet_update_path_of_a_combined_ppmidcad_is_outside_this_suite',
    'NOTIFY-1/chf/upgrade':
        ('test_the_communications_hub_notifies_the_kind_of_its_image[PPMID-ppmid-a conformant '
         'upgrade of the PPMID]'),
    'NOTIFY-1/chf/two-devices':
        ('test_the_communications_hub_notifies_the_kind_of_its_image[HCALCS-hcalcs-a PPMID and'
         ' an HCALCS upgraded at once for two suppliers]'),
    'NOTIFY-2/device/upgrade':
        ('test_the_kind_asks_for_the_image_when_notified[PPMID-ppmid-a conformant upgrade of t'
         'he PPMID]'),
    'NOTIFY-2/device/two-devices':
        ('test_the_kind_asks_for_the_image_when_notified[HCALCS-hcalcs-a PPMID and an HCALCS u'
         'pgraded at once for two suppliers]'),
    'NOTIFY-2/chf/upgrade':
        ('test_the_communications_hub_describes_the_held_image_to_the_kind[PPMID-ppmid-a confo'
         'rmant upgrade of the PPMID]'),
    'NOTIFY-2/chf/two-devices':
        ('test_the_communications_hub_describes_the_held_image_to_the_kind[HCALCS-hcalcs-a PPM'
         'ID and an HCALCS upgraded at once for two suppliers]'),
    'NOTIFY-3/chf/upgrade':
        'test_a_device_that_is_not_the_images_target_gets_no_image',
    'NOTIFY-4/chf/upgrade-hw-mismatch':
        'test_a_hardware_version_outside_the_images_range_gets_no_image',
    'NOTIFY-5/chf/upgrade-no-hw-version':
        'test_a_query_without_a_hardware_version_still_gets_the_image',
    'SCOPE-1/chf/upgrade':
        ('test_a_kind_can_be_upgraded_through_the_communications_hub[PPMID-ppmid-a conformant '
         'upgrade of the PPMID]'),
    'SCOPE-1/chf/two-devices':
        ('test_a_kind_can_be_upgraded_through_the_communications_hub[HCALCS-hcalcs-a PPMID and'
         ' an HCALCS upgraded at once for two suppliers]'),
    'SCOPE-2/chf/ihd-refused':
        'test_the_communications_hub_offers_no_image_to_an_inhome_display',
    'SCOPE-3/chf/upgrade':
        ('test_the_communications_hub_needs_nothing_beyond_the_standard_ota_cluster[ppmid-a co'
         'nformant upgrade of the PPMID]'),
    'SCOPE-3/chf/upgrade-no-hw-version':
        ('test_the_communications_hub_needs_nothing_beyond_the_standard_ota_cluster[ppmid-an u'
         'pgrade of a PPMID that sends no hardware version]'),
    'SCOPE-3/chf/two-devices':
        ('test_the_communications_hub_needs_nothing_beyond_the_standard_ota_cluster[hcalcs-a P'
         'PMID and an HCALCS upgraded at once for two suppliers]'),
    'VER-1/chf/upgrade':
        ('test_the_communications_hub_reads_the_kinds_version_back[PPMID-ppmid-a conformant up'
         'grade of the PPMID]'),
    'VER-1/chf/two-devices':
        ('test_the_communications_hub_reads_the_kinds_version_back[HCALCS-hcalcs-a PPMID and a'
         'n HCALCS upgraded at once for two suppliers]'),
    'VER-1/device/upgrade':
        'test_the_device_answers_the_version_read',
    'VER-2/chf/upgrade':
        ('test_the_cs08_alert_tells_the_supplier_the_version_the_kind_runs[PPMID-ppmid-a confo'
         'rmant upgrade of the PPMID]'),
    'VER-2/chf/two-devices':
        ('test_the_cs08_alert_tells_the_supplier_the_version_the_kind_runs[HCALCS-hcalcs-a PPM'
         'ID and an HCALCS upgraded at once for two suppliers]'),
    'VER-3/chf/upgrade':
        ('test_the_ccs08_alert_reports_outcome[a successful transfer-0x8F8A-0-a conformant upg'
         'rade of the PPMID]'),
    'VER-3/chf/upgrade-hw-mismatch':
        ('test_the_ccs08_alert_reports_outcome[a hardware version mismatch-0x8F89-2-an image w'
         'hose hardware range excludes the PPMID]'),
    'VER-3/chf/upgrade-invalid-image':
        ('test_the_ccs08_alert_reports_outcome[a refused corrupt image-0x8F89-1 or 3-a corrupt'
         ' image for the PPMID]'),
    'VER-3/chf/upgrade-abandoned':
        ('test_the_ccs08_alert_reports_outcome[an abandoned transfer-0x8F89-3-an upgrade the C'
         'omms Hub stops serving half way]'),
    'VER-4/chf/read-version':
        'test_sr_112_reads_the_version_on_demand',
    'VER-5/device/version-event':
        'test_a_device_that_announces_its_version_still_answers_the_read',
    'VER-5/chf/version-event':
        'test_the_read_not_the_announcement_decides_the_report',
    'VER-6/chf/upgrade':
        ('test_the_communications_hub_signs_its_alerts_situation[a conformant upgrade of the P'
         'PMID]'),
    'VER-6/chf/upgrade-hw-mismatch':
        ('test_the_communications_hub_signs_its_alerts_situation[an image whose hardware range'
         ' excludes the PPMID]'),
}

# Scenarios NOT APPLICABLE by the PICS: short name -> the PICS claim it needs. BAN-4 is
# never judged on the HAN (an internet path is outside this suite).
NEEDS_PICS: dict[str, str] = {
    "VER-5/device/version-event": "version_event",
    "BAN-4/device/-": "cad_update_path",
}

# What a conformant capture shows, in groups that the exchange descriptions name. Where a
# replay first disagreed and the table was wrong, the group says why (the check's reading).
NOTIFIED = ("NOTIFY-1/chf/upgrade", "NOTIFY-2/device/upgrade")
# The CHF answers the PPMID's query SUCCESS with the held image. Not a downgrade's: a
# query counts only when it asks for a version below the held image's (verify/README.md,
# rule 3), and a rollback's image is below the running one.
OFFERED = ("NOTIFY-2/chf/upgrade",)
# Any PPMID download: blocks served exactly, requests paced and without gaps (an
# unfinished download has no gap either). The FRAG-1 device row "in parts" needs a
# download in several OTA files (MULTI_PART): a single-file download does not show it.
# Every CHF transfer has one WAIT_FOR_DATA episode half-way (emulators/chf.py); asking
# again after it is not an interruption (the CHF answered), so it evidences no FRAG-4.
DOWNLOAD = ("FRAG-1/chf/upgrade", "FRAG-3/device/upgrade", "FRAG-1/device/upgrade")
UNPACED_DOWNLOAD = tuple(name for name in DOWNLOAD if not name.startswith("FRAG-3"))
MULTI_PART = ("FRAG-1/device/upgrade-large",)
WAIT_EPISODE = ("FRAG-2/chf/upgrade", "FRAG-2/device/upgrade")
# A loss or reset mid-download and the resumption at the last good offset after it: the
# PPMID's 8 s reset in upgrade-lossy (its MAC-level losses are all retried by the MAC).
RESUMED = ("FRAG-4/device/upgrade-lossy",)
# Downloads long enough for the PPMID's minute meter read (from 30 s) to fall inside.
METER_READ = ("FRAG-6/chf/upgrade",)
# A complete upgrade: activation; SCOPE-3 needs one too ("can be upgraded" with nothing
# beyond the standard cluster).
ACTIVATION = ("ACT-1/chf/upgrade", "ACT-2/device/upgrade", "SCOPE-1/chf/upgrade",
              "SCOPE-3/chf/upgrade", "SCOPE-3/chf/upgrade-no-hw-version")
READ_BACK = ("VER-1/chf/upgrade", "VER-1/device/upgrade", "VER-2/chf/upgrade")
# Any GBCS alert: VER-6 (signed).
ALERTED = ("VER-6/chf/upgrade", "VER-6/chf/upgrade-hw-mismatch")
# VER-3: each Examples row needs its own outcome on the HAN, then judges the CCS08 for it
# (a capture holding only a success alert does not evidence the mismatch row).
CCS08_SUCCESS = ("VER-3/chf/upgrade",)
CCS08_MISMATCH = ("VER-3/chf/upgrade-hw-mismatch",)
CCS08_INVALID = ("VER-3/chf/upgrade-invalid-image",)
CCS08_ABANDONED = ("VER-3/chf/upgrade-abandoned",)
# CONC-2 needs alerts for two devices requested by two suppliers: two-devices only.
DUAL_SUPPLIER = ("CONC-2/chf/two-devices",)
PPMID_UPGRADE = (NOTIFIED + OFFERED + DOWNLOAD + WAIT_EPISODE + METER_READ + ACTIVATION
                 + READ_BACK + ALERTED + CCS08_SUCCESS)
# "... the HCALCS queries and gets NO_IMAGE_AVAILABLE"
HCALCS_REFUSED = ("NOTIFY-3/chf/upgrade",)
HCALCS_UPGRADE = ("NOTIFY-1/chf/two-devices", "NOTIFY-2/device/two-devices",
                  "NOTIFY-2/chf/two-devices", "FRAG-1/chf/two-devices",
                  "FRAG-1/device/two-devices", "FRAG-3/device/two-devices",
                  "ACT-1/chf/two-devices", "ACT-2/device/two-devices",
                  "SCOPE-1/chf/two-devices", "SCOPE-3/chf/two-devices",
                  "VER-1/chf/two-devices", "VER-2/chf/two-devices")

# exchange -> the scenarios a conformant capture of it must PASS (from SCENARIOS' words).
EVIDENCE: dict[str, tuple[str, ...]] = {
    "upgrade": PPMID_UPGRADE + HCALCS_REFUSED,
    # the image goes as several OTA files: the FRAG-1 "in parts" row
    "upgrade-large": (*PPMID_UPGRADE, *MULTI_PART, "FRAG-5/device/upgrade-large",
                      "FRAG-5/chf/upgrade-large"),
    "upgrade-hw-mismatch": NOTIFIED + ALERTED + CCS08_MISMATCH
    + ("NOTIFY-4/chf/upgrade-hw-mismatch",),
    "upgrade-no-hw-version": PPMID_UPGRADE + HCALCS_REFUSED
    + ("NOTIFY-5/chf/upgrade-no-hw-version",),
    "upgrade-invalid-image": NOTIFIED + OFFERED + DOWNLOAD + WAIT_EPISODE + ALERTED
    + CCS08_INVALID + ("ACT-3/device/upgrade-invalid-image", "ACT-3/chf/upgrade-invalid-image"),
    # no meter read falls inside this download (the contract names none here)
    "upgrade-lossy": tuple(name for name in PPMID_UPGRADE if name not in METER_READ)
    + RESUMED,
    # the silence comes before the half-way WAIT_FOR_DATA; the PPMID's re-requests of
    # the same offset into the silence are never answered, so nothing resumes (no FRAG-4
    # lossy row); the download lasts long enough for a meter read
    # FRAG-3 judges pacing only against a period the CHF gave on the air, and its one
    # WAIT_FOR_DATA would come half way, after the CHF fell silent
    "upgrade-abandoned": NOTIFIED + OFFERED + UNPACED_DOWNLOAD + ALERTED + CCS08_ABANDONED
    + METER_READ + ("FRAG-4/device/upgrade-abandoned",),
    "downgrade": NOTIFIED + ALERTED + ("ACT-4/device/downgrade",),
    # SR 11.2 answers are CS08 responses, not alerts (VER-6 judges alerts); the version
    # read there is not the read after an activation (VER-1 device).
    "read-version": ("VER-4/chf/read-version",),
    "rogue-cad": (*PPMID_UPGRADE, "BAN-1/device/rogue-cad", "BAN-2/device/rogue-cad",
                  "BAN-3/device/rogue-cad"),
    # the IHD's query is SCOPE-2's, not NOTIFY-3's (one fault, one requirement)
    "ihd-refused": ("SCOPE-2/chf/ihd-refused",),
    "two-devices": PPMID_UPGRADE + HCALCS_UPGRADE + DUAL_SUPPLIER
    + ("CONC-1/chf/two-devices",),
    # the PICS of pcaps/dut.toml claims no version_event, so VER-1 judges the device's
    # answer even though it announces its version (VER-5 would, with the claim)
    "version-event": (*PPMID_UPGRADE, *HCALCS_REFUSED,
                      "VER-5/chf/version-event", "VER-5/device/version-event"),
}


@dataclass(frozen=True)
class ProfileCapture:
    """Where a fault profile shows: the exchange, what its run no longer evidences
    (``inconclusive``), what the fault makes happen that a conformant run of that exchange
    does not show (``evidenced``: e.g. an accepted downgrade is a whole upgrade), with why;
    ``images`` when the fault makes the CHF hold other images than the exchange delivers."""

    exchange: str
    inconclusive: tuple[str, ...] = ()
    evidenced: tuple[str, ...] = ()
    why: str = ""
    dut_file: str = DUT_FILE
    images: tuple[str, ...] | None = None


NO_DOWNLOAD = OFFERED + DOWNLOAD + WAIT_EPISODE + METER_READ + ACTIVATION + READ_BACK
CCS08_ROWS = CCS08_SUCCESS + CCS08_MISMATCH + CCS08_INVALID + CCS08_ABANDONED
NO_ACTIVATION = ACTIVATION + READ_BACK
WHOLE_UPGRADE = DOWNLOAD + WAIT_EPISODE + ACTIVATION + READ_BACK
HCALCS_DOWNLOAD = tuple(name for name in HCALCS_UPGRADE
                        if not name.startswith(("NOTIFY", "CONC")))

PROFILE_CAPTURES: dict[str, ProfileCapture] = {
    "ignores-notify": ProfileCapture(
        "upgrade", NO_DOWNLOAD + CCS08_ROWS,
        why="the PPMID never queries: no download, no outcome for a CCS08 to report"),
    "overlap": ProfileCapture("upgrade"),
    "skips-offset": ProfileCapture(
        "upgrade", NO_ACTIVATION + CCS08_SUCCESS,
        ("ACT-3/chf/upgrade-invalid-image", *CCS08_INVALID),
        why="the file the PPMID assembles has a hole: it refuses it (INVALID_IMAGE), "
            "which the CHF reports (the VER-3 refused-image row, not the success row); "
            "no activation"),
    "ignores-wait-for-data": ProfileCapture("upgrade"),
    "no-pacing": ProfileCapture("upgrade", METER_READ,
                                why="the unpaced download is over before the first meter read"),
    "restarts-from-zero": ProfileCapture(
        "upgrade-lossy", (), METER_READ,
        why="downloading again from 0 takes long enough for a meter read to fall inside"),
    "single-part-end": ProfileCapture(
        "upgrade-large", ("FRAG-5/chf/upgrade-large", *MULTI_PART),
        why="the PPMID ends after the first part: the CHF's later parts never go, so "
            "no download in parts for the FRAG-1 'in parts' row"),
    "reports-old-version": ProfileCapture("upgrade"),
    "accepts-invalid-image": ProfileCapture(
        "upgrade-invalid-image", ("ACT-3/chf/upgrade-invalid-image", *CCS08_INVALID),
        NO_ACTIVATION + CCS08_SUCCESS,
        why="the PPMID activates the corrupt image: no refusal for the CHF to report, a "
            "whole activation, read-back and success alert instead"),
    "accepts-downgrade": ProfileCapture(
        "downgrade", (), WHOLE_UPGRADE + CCS08_SUCCESS,
        why="the PPMID downloads and activates the lower version: a whole upgrade, "
            "reported as a success"),
    "silent-after-event": ProfileCapture(
        "version-event", ("VER-2/chf/upgrade", "ACT-2/device/upgrade",
                          "VER-1/device/upgrade"), dut_file=VERSION_EVENT_DUT_FILE,
        why="no read answered: no version read back for the CS08 alert; whether the "
            "announcing device answers the read is VER-5's with the PICS claim, so ACT-2 "
            "and VER-1 leave it"),
    "downgrade-at-readback": ProfileCapture("downgrade"),
    "answers-cad-notify": ProfileCapture("rogue-cad"),
    "obeys-cad-responses": ProfileCapture("rogue-cad"),
    "never-notifies": ProfileCapture(
        "upgrade", NO_DOWNLOAD + NOTIFIED[1:] + CCS08_ROWS,
        why="no Image Notify: the PPMID never queries, nothing downloads"),
    "serves-wrong-version": ProfileCapture("upgrade"),
    "serves-non-target": ProfileCapture("upgrade"),
    "notify-non-target": ProfileCapture(
        "upgrade", (), ("NOTIFY-2/device/two-devices",),
        why="the HCALCS, notified of the PPMID's image, asks at once (and gets "
            "NO_IMAGE_AVAILABLE): the HCALCS row of NOTIFY-2 device is evidenced"),
    "ignores-hw-version": ProfileCapture(
        "upgrade-hw-mismatch", CCS08_MISMATCH, WHOLE_UPGRADE + CCS08_SUCCESS,
        why="the CHF offers the image despite the mismatch: no mismatch for the VER-3 "
            "row, a whole upgrade (and its success alert) follows"),
    "requires-hw-version": ProfileCapture(
        "upgrade-no-hw-version", NO_DOWNLOAD + CCS08_ROWS,
        why="NO_IMAGE_AVAILABLE to the query without hardware version: nothing downloads"),
    "wrong-offset": ProfileCapture("upgrade"),
    "bad-wait-for-data": ProfileCapture("upgrade"),
    "starves-han": ProfileCapture("upgrade"),
    "no-large-image-split": ProfileCapture(
        "upgrade-large", ("FRAG-5/device/upgrade-large", *MULTI_PART),
        why="one OTA file: the device has no parts to answer REQUIRE_MORE_IMAGE to, "
            "and no download in parts for the FRAG-1 'in parts' row"),
    "delayed-activation": ProfileCapture(
        "upgrade", ("ACT-2/device/upgrade", "VER-1/chf/upgrade", "VER-1/device/upgrade",
                    "VER-2/chf/upgrade"),
        why="no 'upgrade now': the checks after an activation find none"),
    "never-reads-back": ProfileCapture(
        "upgrade", ("ACT-2/device/upgrade", "VER-1/device/upgrade", "VER-2/chf/upgrade"),
        why="no read: no version report of the device, no read for VER-2"),
    "success-on-mismatch": ProfileCapture("upgrade"),
    "wrong-alert-code": ProfileCapture("upgrade"),
    "sr112-from-cache": ProfileCapture("read-version"),
    "unsigned-alert": ProfileCapture("upgrade"),
    "serves-ihd": ProfileCapture(
        "ihd-refused", ("NOTIFY-3/chf/upgrade",),
        ("VER-6/chf/upgrade", "VER-6/chf/upgrade-hw-mismatch"),
        why="the CHF holds the IHD's image (so the IHD is its target: no NOTIFY-3 case) "
            "and alerts about its transfer (signed; no supplier request, so no CONC-2)",
        images=("ihd",)),
    "mixes-images": ProfileCapture(
        "two-devices", HCALCS_DOWNLOAD,
        why="the HCALCS is offered the PPMID's image and downloads nothing of its own"),
    "alerts-wrong-supplier": ProfileCapture("two-devices"),
}

@dataclass(frozen=True)
class ImperfectCapture:
    """A conformant exchange recorded the way real captures differ (issue 9): the sniffer
    misses frames, starts late or drops the FCS; a router in the path; a rejoin; alerts
    without times. ``inconclusive``: what the capture no longer evidences, and why. None
    of it may FAIL: the HAN is conformant."""

    exchange: str
    why: str
    inconclusive: tuple[str, ...] = ()
    sniffer: SnifferOptions | None = None
    han: HanOptions | None = None
    timeless: bool = False


IMPERFECT_CAPTURES: dict[str, ImperfectCapture] = {
    "upgrade-sniffer-misses": ImperfectCapture(
        "upgrade", "the sniffer misses 2 % of the frames (seed 1): among them PPMID block "
                   "requests (their coverage of the file cannot be shown), one of its "
                   "frames inside the WAIT_FOR_DATA episode, where an early request could "
                   "hide, and the meter read during the download; every other verdict "
                   "stands on what was heard",
        ("FRAG-1/device/upgrade", "FRAG-2/device/upgrade", *METER_READ),
        sniffer=SnifferOptions(miss=0.02, seed=1)),
    "upgrade-fcs-stripped": ImperfectCapture(
        "upgrade", "a sniffer that stores no FCS under link type 195 (captured length = "
                   "original length - 2): every frame decodes, every verdict stands",
        sniffer=SnifferOptions(fcs="stripped")),
    "upgrade-started-mid-download": ImperfectCapture(
        "upgrade", "the capture starts 30 s in, half way through the download: the notify, "
                   "query and the first blocks (and the WAIT_FOR_DATA, the meter read and "
                   "the HCALCS's query) lie before it; what follows is judged",
        NOTIFIED + OFFERED + WAIT_EPISODE + METER_READ + HCALCS_REFUSED
        + ("FRAG-1/device/upgrade", "FRAG-3/device/upgrade", "SCOPE-1/chf/upgrade",
           "SCOPE-3/chf/upgrade", "SCOPE-3/chf/upgrade-no-hw-version"),
        sniffer=SnifferOptions(start_s=30.0)),
    "upgrade-alerts-without-times": ImperfectCapture(
        "upgrade", "the alerts file has no times: the CS08 and CCS08 alerts cannot be "
                   "placed after the read-back or the transfer (time-bounded rules); their "
                   "signatures still verify",
        ("VER-2/chf/upgrade", *CCS08_SUCCESS), timeless=True),
    "two-devices-routed": ImperfectCapture(
        "two-devices", "the HCALCS reaches the CHF through the PPMID, the PPMID through a "
                       "repeater the DUT description does not list: NWK security per hop, "
                       "every verdict as on one hop",
        han=HanOptions(variants=frozenset({"routed"}))),
    "upgrade-lossy-rejoin": ImperfectCapture(
        "upgrade-lossy", "the PPMID's reset is a rejoin with a new short address "
                         "(Device_annce): it keeps its name, every verdict stands",
        han=HanOptions(variants=frozenset({"rejoin"}))),
}


# The conformant upgrade cut short before the Upgrade End Response: nothing of the
# activation and what follows it is in the capture (nor the alerts, sent after it).
CUT_BEFORE_ACTIVATION = ACTIVATION + READ_BACK + ALERTED + CCS08_SUCCESS
CUTS: dict[str, str] = {
    "upgrade-cut-at-record": "cut at the record boundary before the first Upgrade End Response",
    "upgrade-cut-mid-record": "cut in the middle of the Upgrade End Response record",
}


def role_of(name: str) -> str:
    return name.split("/")[1]


def requirement_of(name: str) -> str:
    return name.split("/")[0]


def expected_verdicts(dut: Dut, exchange: str, profile: str | None = None,
                      inconclusive: Iterable[str] = (), evidenced_too: Iterable[str] = (),
                      ) -> dict[str, str]:
    """Scenario short name -> verdict, from the declared tables only (never from a run)."""
    evidenced = (set(EVIDENCE[exchange]) | set(evidenced_too)) - set(inconclusive)
    broken = PROFILES[profile] if profile else None
    verdicts = {}
    for name in SCENARIO_IDS:
        claim = NEEDS_PICS.get(name)
        if claim is not None and not getattr(dut.pics, claim):
            verdict = NOT_APPLICABLE
        elif name not in evidenced:
            verdict = INCONCLUSIVE
        elif (broken and requirement_of(name) == broken.requirement
              and role_of(name) == broken.side):
            verdict = FAIL
        else:
            verdict = PASS
        verdicts[name] = verdict
    return verdicts


def _first_upgrade_end_response(capture: Path, dut: Dut) -> tuple[int, float]:
    """Index (0-based record) and time of the first Upgrade End Response in ``capture``."""
    for frame in read_capture(capture, dut_keys(dut)):
        if frame.han is not None and frame.han.zcl is not None \
                and frame.han.zcl.command == "upgrade_end_response":
            return frame.number - 1, frame.time
    raise ValueError(f"{capture}: no Upgrade End Response to cut before")


class _RecordOffsets(io.BytesIO):
    """A capture buffer that remembers where each write (header, then one record) ends."""

    def __init__(self) -> None:
        super().__init__()
        self.ends: list[int] = []

    def write(self, data: bytes) -> int:  # type: ignore[override]
        written = super().write(data)
        self.ends.append(self.tell())
        return written


def _emulate(out: Path, dut: Dut, exchange: str, name: str, profile: str | None,
             imperfect: ImperfectCapture | None = None,
             ) -> tuple[_RecordOffsets, list[tuple[float, bytes]]]:
    buffer = _RecordOffsets()
    result = emulate(dut, exchange, buffer, profiles=profile_nodes(dut, profile),
                     sniffer=imperfect.sniffer if imperfect else None,
                     options=imperfect.han if imperfect else None)
    messages = [(message.time, message.data) for message in result.wan]
    (out / f"{name}.pcapng").write_bytes(buffer.getvalue())
    if imperfect is not None and imperfect.timeless:
        (out / f"{name}.gbcs.hex").write_text(
            "# GBCS messages without times (as a supplier's export may give them)\n"
            + "".join(f"{data.hex().upper()}\n" for _, data in messages))
    else:
        write_gbcs_hex(out / f"{name}.gbcs.hex", messages)
    return buffer, messages


def _entry(dut: Dut, dut_file: str, name: str, exchange: str, profile: str | None,
           expected: dict[str, str], note: str = "", images: Iterable[str] | None = None,
           ) -> dict:
    held = list(images) if images is not None else [
        image.name for image in delivered_images(dut, exchange)]
    return {"file": f"{name}.pcapng", "gbcs": f"{name}.gbcs.hex", "dut": dut_file,
            "exchange": exchange, "profile": profile,
            "breaks": PROFILES[profile].requirement if profile else None,
            "images": held,
            "note": note, "expected": expected}


def _cuts(out: Path, dut: Dut, buffer: _RecordOffsets,
          messages: list[tuple[float, bytes]]) -> list[dict]:
    data = buffer.getvalue()
    end_response, cut_time = _first_upgrade_end_response(out / "upgrade.pcapng", dut)
    # ends[0] is the end of the header; record i ends at ends[i + 1].
    boundary = buffer.ends[end_response]
    middle = (boundary + buffer.ends[end_response + 1]) // 2
    before = [(when, message) for when, message in messages if when < cut_time]
    expected = expected_verdicts(dut, "upgrade", inconclusive=CUT_BEFORE_ACTIVATION)
    entries = []
    for name, size in (("upgrade-cut-at-record", boundary), ("upgrade-cut-mid-record", middle)):
        (out / f"{name}.pcapng").write_bytes(data[:size])
        write_gbcs_hex(out / f"{name}.gbcs.hex", before)
        entries.append(_entry(dut, DUT_FILE, name, "upgrade", None, expected, CUTS[name]))
    return entries


def build(out: Path) -> dict:
    """Write every reference capture, its GBCS file and the manifest into ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    duts = {file: load_dut(out / file) for file in (DUT_FILE, VERSION_EVENT_DUT_FILE)}
    dut = duts[DUT_FILE]
    entries = []
    upgrade: tuple[_RecordOffsets, list[tuple[float, bytes]]] | None = None
    for exchange in SCENARIOS:
        run = _emulate(out, dut, exchange, exchange, None)
        upgrade = run if exchange == "upgrade" else upgrade
        entries.append(_entry(dut, DUT_FILE, exchange, exchange, None,
                              expected_verdicts(dut, exchange)))
    assert upgrade is not None
    entries += _cuts(out, dut, *upgrade)
    for profile, where in PROFILE_CAPTURES.items():
        profile_dut = duts[where.dut_file]
        name = f"{where.exchange}-{profile}"
        _emulate(out, profile_dut, where.exchange, name, profile)
        entries.append(_entry(profile_dut, where.dut_file, name, where.exchange, profile,
                              expected_verdicts(profile_dut, where.exchange, profile,
                                                where.inconclusive, where.evidenced),
                              where.why, where.images))
    for name, imperfect in IMPERFECT_CAPTURES.items():
        _emulate(out, dut, imperfect.exchange, name, None, imperfect)
        entries.append(_entry(dut, DUT_FILE, name, imperfect.exchange, None,
                              expected_verdicts(dut, imperfect.exchange,
                                                inconclusive=imperfect.inconclusive),
                              imperfect.why))
    manifest = {"certificate": CERTIFICATE,
                "scenarios": {name: FEATURES + test for name, test in SCENARIO_IDS.items()},
                "captures": entries}
    (out / MANIFEST).write_text(json.dumps(manifest, indent=1) + "\n")
    (out / SET_FILE).write_text(situations_toml(entries))
    return manifest


def situations_toml(entries: list[dict]) -> str:
    """``pcaps/`` as a capture set: each situation's conformant capture."""
    by_exchange = {e["exchange"]: e for e in entries if e["file"] == f"{e['exchange']}.pcapng"}
    lines = ["# The reference captures as a capture set (make pcaps writes it): the",
             "# conformant capture of every situation. --target pcap --capture-set pcaps",
             "", "[set]", f'dut = "{DUT_FILE}"', ""]
    for situation in SITUATIONS:
        entry = by_exchange[situation.exchange]
        images = ", ".join(f'"{name}"' for name in entry["images"])
        lines += [f"# {situation.phrase}", f"[situations.{situation.id}]",
                  f'capture = "{entry["file"]}"', f'alerts = "{entry["gbcs"]}"',
                  f"images = [{images}]", ""]
    return "\n".join(lines)


def capture_set_expected(manifest: dict) -> dict[str, str]:
    """Scenario short name -> the verdict it must get when ``pcaps/`` is replayed as one
    capture set: the verdict its own situation's conformant capture gives it."""
    by_exchange = {e["exchange"]: e for e in manifest["captures"]
                   if e["file"] == f"{e['exchange']}.pcapng"}
    expected = {}
    for name in SCENARIO_IDS:
        label = name.split("/")[2]
        entry = by_exchange.get(label, by_exchange["upgrade"])
        expected[name] = entry["expected"][name]
    return expected


def load_manifest(pcaps: Path) -> dict:
    return json.loads((pcaps / MANIFEST).read_text())


def replay(pcaps: Path, entry: dict, certificate: Path, out: Path) -> SuiteRun:
    """Replay one manifest entry with ``--target pcap`` (a pytest subprocess)."""
    capture = pcaps / entry["file"]
    return run_suite("pcap", dut=pcaps / entry["dut"], capture=capture,
                     alerts=pcaps / entry["gbcs"], certificate=certificate, out=out,
                     extra=("--images", ",".join(entry["images"])))


def mismatches(manifest: dict, entry: dict, run: SuiteRun) -> list[str]:
    """One line per scenario whose verdict differs from the manifest (or is missing)."""
    lines = []
    for name, expected in entry["expected"].items():
        scenario = manifest["scenarios"][name]
        actual = run.verdicts.get(scenario, "MISSING")
        if actual != expected:
            reason = next((s["reason"] for s in run.scenarios if s["scenario"] == scenario), "")
            lines.append(f"{entry['file']}: {name} ({scenario}): expected {expected}, "
                         f"got {actual} {reason[:300]}")
    unknown = set(run.verdicts) - set(manifest["scenarios"].values())
    lines += [f"{entry['file']}: {scenario}: not in the manifest" for scenario in sorted(unknown)]
    return lines


def check_all(pcaps: Path, out: Path, workers: int = 2) -> tuple[list[str], int]:
    """Replay every capture of the manifest (``workers`` at a time): the mismatch lines
    and the number of captures replayed."""
    manifest = load_manifest(pcaps)
    certificate = ROOT / manifest["certificate"]
    entries = manifest["captures"]

    def one(entry: dict) -> list[str]:
        return mismatches(manifest, entry, replay(pcaps, entry, certificate,
                                                  out / Path(entry["file"]).stem))

    with ThreadPoolExecutor(max_workers=workers) as pool:
        results = list(pool.map(one, entries))
    return [line for lines in results for line in lines], len(entries)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m hanota.selftest.refcaptures",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "pcaps")
    parser.add_argument("--check", type=Path, metavar="WORKDIR",
                        help="instead of building, replay every capture and list mismatches")
    args = parser.parse_args(argv)
    if args.check is not None:
        started = time.perf_counter()
        lines, count = check_all(args.out, args.check)
        print("\n".join(lines))
        print(f"{count} captures replayed in {time.perf_counter() - started:.1f} s, "
              f"{len(lines)} mismatches")
        return 1 if lines else 0
    manifest = build(args.out)
    size = sum(path.stat().st_size for path in args.out.glob("*.pcapng"))
    print(f"{len(manifest['captures'])} captures, {size / 1024:.0f} KiB, "
          f"manifest {args.out / MANIFEST}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
