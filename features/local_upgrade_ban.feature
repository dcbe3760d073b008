@local_upgrade_ban
Feature: Local-upgrade ban - firmware comes only from the Communications Hub
  A PPMID or HCALCS takes firmware only from its OTA server, the Comms Hub. Offers from
  any other node (a CAD, a rogue node, a node using the Comms Hub's short address) are
  ignored and change nothing. A node is told apart by the EUI-64 it secures its frames
  with, not by the short address it claims.

  @BAN-1 @device @active
  Scenario: An Image Notify from a rogue node is ignored
    From RC Q2 (E.ON: "the ban on local upgrades to PPMIDs"), RC Q8 (Green Energy Options
    objects to the prohibition of local upgrade) and RC Q1 (Shell Energy Retail: combined
    PPMID/CAD units). A CAD sends the PPMID an Image Notify.
    Fail: the device sends that node a Query Next Image Request.
    Given a capture of a rogue node offering the PPMID firmware, then a genuine upgrade
    And the device "ppmid"
    Then the device sends the rogue node no query

  @BAN-2 @device @active
  Scenario: OTA responses from a rogue node are ignored
    From RC Q2 (E.ON: the capability still exists in deployed assets "unless a new
    firmware image to disable local OTA is developed"). A CAD sends unsolicited Query Next
    Image, Image Block and Upgrade End Responses.
    Fail: the device sends that node a block request or an Upgrade End Request, ends a
    download SUCCESS for a version only that node offered, or runs that version.
    Given a capture of a rogue node offering the PPMID firmware, then a genuine upgrade
    And the device "ppmid"
    Then the device neither downloads from nor activates anything the rogue node offers

  @BAN-3 @device @active
  Scenario: A rogue attempt changes nothing and a genuine upgrade still works
    From RC Q2 (E.ON).
    Fail: the device's next query to the Comms Hub names another file version than it
    ran before the attempt.
    Given a capture of a rogue node offering the PPMID firmware, then a genuine upgrade
    And the device "ppmid"
    Then the device keeps its version and a genuine upgrade through the Comms Hub works

  @BAN-4 @device
  Scenario: The internet update path of a combined PPMID/CAD is outside this suite
    From RC Q1 (Shell Energy Retail: "the upgrade path to both PPMID and CAD firmware via
    the internet is a working and viable solution") and RC Q8 (Green Energy Options). That
    path never crosses the HAN: the report says so instead of passing it.
    Then the internet update path is reported as outside this suite
