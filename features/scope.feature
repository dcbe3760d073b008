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
    Pass: the device's query is offered the held image, its blocks are served, and its
    Upgrade End Request SUCCESS is answered. Fail: the Comms Hub answers any OTA command
    of the device NOT_AUTHORIZED (0x7E), refusing it the route.
    Given a capture of <situation>
    And the device "<device>"
    Then the device downloads and activates its image through the Comms Hub

    Examples:
      | kind   | device | situation                                              |
      | PPMID  | ppmid  | a conformant upgrade of the PPMID                      |
      | HCALCS | hcalcs | a PPMID and an HCALCS upgraded at once for two suppliers |

  @SCOPE-2 @chf @active
  Scenario: The Communications Hub offers no image to an In-Home Display
    From RC Q1 (Citizens Advice and Scottish Power accept de-scoping the IHD) and RC Q3
    (EDF: PPMIDs that also show IHD information are registered as PPMIDs). The supplier
    asks for an IHD update; whether the DCC refuses that request on the WAN is outside
    the HAN and not judged here.
    Pass: the IHD's Query Next Image Request is answered NO_IMAGE_AVAILABLE (0x98). Fail:
    the Comms Hub sends the IHD an Image Notify, a SUCCESS Query Next Image Response or a
    block, or reports a successful transfer to it (CCS08 response code 0).
    Given a capture of an image for the IHD
    Then the Comms Hub offers the IHD no image and refuses its query

  @SCOPE-3 @chf
  Scenario Outline: The Communications Hub needs nothing beyond the standard OTA cluster
    From WG Q7 and RC Q8 (Chameleon Technology: "the OTA capability as described in the
    ZigBee specification (with no added requirements)") and RC Q1 (Scottish Power: "all
    existing units in the field will be upgradable"; EDF: compatibility with existing
    devices).
    Fail: during an upgrade the Comms Hub sends the device a manufacturer-specific or
    unknown command on the OTA cluster, or an OTA frame outside the Smart Energy (0x0109)
    or Home Automation (0x0104) profile.
    Given a capture of <situation>
    And the device "<device>"
    Then the Comms Hub uses nothing but standard ZigBee OTA commands with the device

    Examples:
      | device | situation                                              |
      | ppmid  | a conformant upgrade of the PPMID                      |
      | ppmid  | an upgrade of a PPMID that sends no hardware version   |
      | hcalcs | a PPMID and an HCALCS upgraded at once for two suppliers |
