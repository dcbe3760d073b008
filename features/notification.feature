@notification
Feature: Notification - the Communications Hub tells the device an image is waiting
  When the Comms Hub holds an image for a device it sends that device an Image Notify;
  the device asks with Query Next Image Request and the Comms Hub answers with the image's
  identity. Devices the image is not for, or whose hardware it does not fit, get no image.

  @NOTIFY-1 @chf
  Scenario Outline: The Communications Hub notifies the <kind> of its image
    From RC Q1 (Scottish Power: "the CH notifying the PPMID of the availability of the
    image ... means that all existing units in the field will be upgradable").
    Given the device "<device>"
    When the "<exchange>" exchange is captured
    Then the Comms Hub sends the device a unicast Image Notify

    Examples:
      | kind   | device | exchange    |
      | PPMID  | ppmid  | upgrade     |
      | HCALCS | hcalcs | two-devices |

  @NOTIFY-2 @device
  Scenario Outline: The <kind> asks for the image when notified
    From RC Q8 (Chameleon Technology: the solution uses "the widely understood and
    tested ZigBee standard") and the ZCL OTA Upgrade cluster.
    Given the device "<device>"
    When the "<exchange>" exchange is captured
    Then the device answers the Image Notify with a Query Next Image Request

    Examples:
      | kind   | device | exchange    |
      | PPMID  | ppmid  | upgrade     |
      | HCALCS | hcalcs | two-devices |

  @NOTIFY-2 @chf
  Scenario Outline: The Communications Hub describes the held image to the <kind>
    From RC Q8 (Chameleon Technology) and the ZCL OTA Upgrade cluster: the answer names
    the manufacturer code, image type, file version and size of the held image.
    Given the device "<device>"
    When the "<exchange>" exchange is captured
    Then the Comms Hub answers SUCCESS with the held image's code, type, version and size

    Examples:
      | kind   | device | exchange    |
      | PPMID  | ppmid  | upgrade     |
      | HCALCS | hcalcs | two-devices |

  @NOTIFY-3 @chf
  Scenario: A device that is not the image's target gets no image
    From the ZCL OTA Upgrade cluster: the HCALCS asks while the Comms Hub holds an image
    for the PPMID only.
    When the "upgrade" exchange is captured
    Then every device that is not the image's target gets NO_IMAGE_AVAILABLE

  @NOTIFY-4 @chf @active
  Scenario: A hardware version outside the image's range gets no image
    From RC Q8 (Chameleon Technology quoting the assessment: the hardware version exists
    "to avoid wasted downloads over the Home Area Network"). The supplier delivers an
    image whose hardware range excludes the PPMID.
    Given the device "ppmid"
    When the "upgrade-hw-mismatch" exchange is captured
    Then the Comms Hub answers NO_IMAGE_AVAILABLE and reports Hardware Version Mismatch

  @NOTIFY-5 @chf
  Scenario: A query without a hardware version still gets the image
    From RC Q8 (Chameleon Technology: the hardware version "should remain as an optional
    feature, to ensure already-installed devices see as much benefit").
    Given the device "ppmid"
    When the "upgrade-no-hw-version" exchange is captured
    Then a query without hardware version still gets the image
