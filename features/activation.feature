@activation
Feature: Activation - the device runs the new image as soon as it is downloaded
  Activation on download: the Comms Hub tells the device to upgrade now; the device runs
  the new version and stays on the HAN. A corrupt image is refused; a rollback is an
  ordinary upgrade to a lower version, accepted or refused as the device declares.

  @ACT-1 @chf
  Scenario Outline: The Communications Hub tells the <kind> to upgrade now
    From RC Q1 (Scottish Power: "activation on download") and WG Q7 (E.ON: "activation
    date-time as zero").
    Given the device "<device>"
    When the "<exchange>" exchange is captured
    Then the Comms Hub answers Upgrade End Request SUCCESS with upgrade now

    Examples:
      | kind   | device | exchange    |
      | PPMID  | ppmid  | upgrade     |
      | HCALCS | hcalcs | two-devices |

  @ACT-2 @device
  Scenario Outline: The <kind> runs the new version after activation
    From RC Q1 (EDF: devices must be compatible and stay compliant; Chameleon Technology:
    devices "kept up to date with security/functionality improvement").
    Given the device "<device>"
    When the "<exchange>" exchange is captured
    Then the device runs the image's version and still answers the Comms Hub

    Examples:
      | kind   | device | exchange    |
      | PPMID  | ppmid  | upgrade     |
      | HCALCS | hcalcs | two-devices |

  @ACT-3 @device @active
  Scenario: The device refuses a corrupt image
    From WG Q5 (Chameleon Technology: "the update mechanism would have to be used again
    in order to correct matters", so a device must survive a bad image) and the ZCL OTA
    Upgrade cluster (INVALID_IMAGE). The supplier delivers an image whose integrity code
    is wrong.
    Given the device "ppmid"
    When the "upgrade-invalid-image" exchange is captured
    Then the device refuses the corrupt image with INVALID_IMAGE and keeps its version

  @ACT-3 @chf @active
  Scenario: The Communications Hub reports a refused image
    From WG Q5 (Chameleon Technology) and GBCS CCS08: the supplier learns that the
    transfer failed.
    Given the device "ppmid"
    When the "upgrade-invalid-image" exchange is captured
    Then the Comms Hub reports the refused image as a failure

  @ACT-4 @device @active
  Scenario: A rollback behaves as the device declares
    From RC Q10 (SMS Plc: "how will these patches etc be rolled back in the event of any
    issues"). The supplier delivers an image with a lower file version; the PICS says
    whether the device accepts downgrades.
    Given the device "ppmid"
    When the "downgrade" exchange is captured
    Then the device accepts or refuses the lower version as its PICS declares
