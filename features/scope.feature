@scope
Feature: Scope - which devices the Communications Hub upgrades
  SECMP0007 brings over-the-air firmware updates through the Communications Hub to the
  Type 1 HAN devices: PPMIDs and HCALCS. In-Home Displays are left out. The mechanism is
  the standard ZigBee OTA Upgrade cluster, so devices already in the field can use it.

  @SCOPE-1 @chf
  Scenario Outline: A <kind> can be upgraded through the Communications Hub
    From RC Q1 (E.ON: "the Zigbee OTA route is needed for SMETS2 PPMIDs, and HCALCs";
    Chameleon Technology: future and installed PPMID/HCALCS kept up to date) and RC Q3
    (EDF: PPMIDs and HCALCS are Type 1 devices that must stay compliant).
    Given the device "<device>"
    When the "<exchange>" exchange is captured
    Then the device downloads and activates its image through the Comms Hub

    Examples:
      | kind   | device | exchange    |
      | PPMID  | ppmid  | upgrade     |
      | HCALCS | hcalcs | two-devices |

  @SCOPE-2 @chf @active
  Scenario: The Communications Hub offers no image to an In-Home Display
    From RC Q1 (Citizens Advice and Scottish Power accept de-scoping the IHD) and RC Q3
    (EDF: PPMIDs that also show IHD information are registered as PPMIDs). The supplier
    asks for an IHD update; the Comms Hub refuses it and tells the IHD nothing.
    When the "ihd-refused" exchange is captured
    Then the Comms Hub offers the IHD no image and refuses its query

  @SCOPE-3 @chf
  Scenario Outline: The Communications Hub needs nothing beyond the standard OTA cluster
    From WG Q7 and RC Q8 (Chameleon Technology: "the OTA capability as described in the
    ZigBee specification (with no added requirements)") and RC Q1 (Scottish Power: "all
    existing units in the field will be upgradable"; EDF: compatibility with existing
    devices).
    Given the device "<device>"
    When the "<exchange>" exchange is captured
    Then the Comms Hub uses nothing but standard ZigBee OTA commands with the device

    Examples:
      | device | exchange              |
      | ppmid  | upgrade               |
      | ppmid  | upgrade-no-hw-version |
      | hcalcs | two-devices           |
