@notification
Feature: Notification - the Communications Hub tells the device an image is waiting
  When the Comms Hub holds an image for a device it sends that device an Image Notify;
  the device asks with Query Next Image Request and the Comms Hub answers with the image's
  identity. Devices the image is not for, or whose hardware it does not fit, get no image.

  @NOTIFY-1 @chf
  Scenario Outline: The Communications Hub notifies the <kind> of its image
    From RC Q1 (Scottish Power: "the CH notifying the PPMID of the availability of the
    image ... means that all existing units in the field will be upgradable").
    Fail: a broadcast Image Notify, a query jitter outside 1..100, the client-to-server
    direction; or no Image Notify where the capture shows the Comms Hub serving the image
    (or reporting on it) and shows the air before that without a gap.
    Given a capture of <situation>
    And the device "<device>"
    Then the Comms Hub sends the device a unicast Image Notify with a query jitter of 1 to 100

    Examples:
      | kind   | device | situation                                              |
      | PPMID  | ppmid  | a conformant upgrade of the PPMID                      |
      | HCALCS | hcalcs | a PPMID and an HCALCS upgraded at once for two suppliers |

  @NOTIFY-2 @device
  Scenario Outline: The <kind> asks for the image when notified
    From RC Q8 (Chameleon Technology: the solution uses "the widely understood and
    tested ZigBee standard") and the ZCL OTA Upgrade cluster.
    A broadcast Image Notify obliges only with query jitter 100 and the device's
    manufacturer and image type (or none, or the wildcards): below 100 the ZCL lets a
    device ignore it.
    Fail: no Query Next Image Request within the window after an Image Notify (while the
    device is not downloading), or one without the device's manufacturer code and image
    type.
    Given a capture of <situation>
    And the device "<device>"
    Then the device answers the Image Notify with a Query Next Image Request within the query jitter (PIXIT query_jitter, read as seconds) and 10 s

    Examples:
      | kind   | device | situation                                              |
      | PPMID  | ppmid  | a conformant upgrade of the PPMID                      |
      | HCALCS | hcalcs | a PPMID and an HCALCS upgraded at once for two suppliers |

  @NOTIFY-2 @chf
  Scenario Outline: The Communications Hub describes the held image to the <kind>
    From RC Q8 (Chameleon Technology) and the ZCL OTA Upgrade cluster. Only queries the
    Comms Hub must serve count: after it has shown it holds the image (its Image Notify,
    an offer), asking for a file version below the held image's, with a hardware version
    in its range. A routine query before or after the upgrade is not one.
    Fail: such a query answered other than SUCCESS (0x00) within 10 s, or answered with
    a manufacturer code, image type, file version or image size that is not the held
    image's.
    Given a capture of <situation>
    And the device "<device>"
    Then the Comms Hub answers SUCCESS with the held image's manufacturer code, image type, file version and size

    Examples:
      | kind   | device | situation                                              |
      | PPMID  | ppmid  | a conformant upgrade of the PPMID                      |
      | HCALCS | hcalcs | a PPMID and an HCALCS upgraded at once for two suppliers |

  @NOTIFY-3 @chf
  Scenario: A device that is not the image's target gets no image
    From the ZCL OTA Upgrade cluster: the HCALCS asks while the Comms Hub holds an image
    for the PPMID only. Interpretation (PIXIT notify_non_target_fails, on by default): a
    unicast Image Notify to that device costs HAN bandwidth for nothing, NOTIFY-4's own
    reason, and fails too.
    Fail: the non-target's query answered other than NO_IMAGE_AVAILABLE (0x98), or (with
    the switch on) a unicast Image Notify to it.
    Given a capture of a conformant upgrade of the PPMID
    Then every device that is not the image's target gets NO_IMAGE_AVAILABLE

  @NOTIFY-4 @chf @active
  Scenario: A hardware version outside the image's range gets no image
    From RC Q8 (Chameleon Technology quoting the assessment: the hardware version exists
    "to avoid wasted downloads over the Home Area Network"). The supplier delivers an
    image whose hardware range excludes the PPMID.
    The range rule: a hardware version below the image's minimum_hardware_version or
    above its maximum_hardware_version is outside it.
    Fail: such a query is offered the image, or answered other than NO_IMAGE_AVAILABLE
    (0x98), or no CCS08 alert for the device follows (its codes are VER-3's).
    Given a capture of an image whose hardware range excludes the PPMID
    And the device "ppmid"
    Then the Comms Hub answers NO_IMAGE_AVAILABLE and reports Hardware Version Mismatch

  @NOTIFY-5 @chf
  Scenario: A query without a hardware version still gets the image
    From RC Q8 (Chameleon Technology: the hardware version "should remain as an optional
    feature, to ensure already-installed devices see as much benefit").
    Fail: a query the Comms Hub must serve, without a hardware version, answered other
    than SUCCESS (0x00).
    Given a capture of an upgrade of a PPMID that sends no hardware version
    And the device "ppmid"
    Then a query without hardware version still gets the image
