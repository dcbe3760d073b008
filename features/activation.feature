@activation
Feature: Activation - the device runs the new image as soon as it is downloaded
  Activation on download: the Comms Hub tells the device to upgrade now; the device runs
  the new version and stays on the HAN. A corrupt image is refused; a rollback is an
  ordinary upgrade to a lower version, accepted or refused as the device declares.

  @ACT-1 @chf
  Scenario Outline: The Communications Hub tells the <kind> to upgrade now
    From RC Q1 (Scottish Power: "activation on download") and WG Q7 (E.ON: "activation
    date-time as zero").
    Fail: Upgrade End Request SUCCESS not answered within 10 s, or answered with an
    upgrade_time other than 0 or its current_time, or naming another file version than
    the one downloaded (0xFFFFFFFF, the wildcard, is allowed).
    Given a capture of <situation>
    And the device "<device>"
    Then the Comms Hub answers Upgrade End Request SUCCESS with upgrade_time 0 or equal to current_time

    Examples:
      | kind   | device | situation                                              |
      | PPMID  | ppmid  | a conformant upgrade of the PPMID                      |
      | HCALCS | hcalcs | a PPMID and an HCALCS upgraded at once for two suppliers |

  @ACT-2 @device
  Scenario Outline: The <kind> runs the new version after activation
    From RC Q1 (EDF: devices must be compatible and stay compliant; Chameleon Technology:
    devices "kept up to date with security/functionality improvement").
    Fail: the device's CurrentFileVersion (attribute 0x0002) after activation is not the
    image's file version, or it does not answer the Comms Hub's read within 10 s.
    Given a capture of <situation>
    And the device "<device>"
    Then the device runs the image's version and still answers the Comms Hub

    Examples:
      | kind   | device | situation                                              |
      | PPMID  | ppmid  | a conformant upgrade of the PPMID                      |
      | HCALCS | hcalcs | a PPMID and an HCALCS upgraded at once for two suppliers |

  @ACT-3 @device @active
  Scenario: The device refuses a corrupt image
    From WG Q5 (Chameleon Technology: "the update mechanism would have to be used again
    in order to correct matters", so a device must survive a bad image) and the ZCL OTA
    Upgrade cluster. The supplier delivers an image whose integrity code is wrong.
    Fail: the device ends the corrupt download other than INVALID_IMAGE (0x96), or the
    Comms Hub's read afterwards shows another version than the one it ran before.
    Without that read, the second half is INCONCLUSIVE.
    Given a capture of a corrupt image for the PPMID
    And the device "ppmid"
    Then the device refuses the corrupt image with INVALID_IMAGE and keeps its version

  @ACT-3 @chf @active
  Scenario: The Communications Hub reports a refused image
    From WG Q5 (Chameleon Technology) and GBCS CCS08: the supplier learns that the
    transfer failed.
    Fail: no CCS08 alert for the device after its INVALID_IMAGE (its codes are VER-3's).
    Given a capture of a corrupt image for the PPMID
    And the device "ppmid"
    Then the Comms Hub reports the refused image as a failure

  @ACT-4 @device @active
  Scenario: A rollback behaves as the device declares
    From RC Q10 (SMS Plc: "how will these patches etc be rolled back in the event of any
    issues"). The supplier delivers an image with a lower file version; PICS
    downgrade_accepted says whether the device takes it.
    Fail (declared accepted): the device ends the download other than SUCCESS, or runs
    another version afterwards. Fail (declared refused): Upgrade End Request SUCCESS, or
    the Comms Hub's read afterwards shows the lower version running.
    Given a capture of an image with a lower file version for the PPMID
    And the device "ppmid"
    Then the device accepts or refuses the lower version as its PICS declares (downgrade_accepted)
