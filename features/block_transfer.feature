@block_transfer
Feature: Block transfer - the image moves in blocks, paced, resumable, in parts
  The device pulls the image with Image Block Requests. The Comms Hub serves exactly what
  is asked or says WAIT_FOR_DATA; the device paces itself so the HAN is not starved,
  resumes after interruptions, and takes large images in parts.

  @FRAG-1 @chf
  Scenario Outline: The Communications Hub serves exactly the requested bytes to the <kind>
    From RC Q10 (Green Energy Options: "the implementation of fragmented images") and the
    ZCL OTA Upgrade cluster. The bytes received must equal the OTA file byte for byte.
    Given the device "<device>"
    When the "<exchange>" exchange is captured
    Then every block response serves exactly the requested bytes of the OTA file

    Examples:
      | kind   | device | exchange    |
      | PPMID  | ppmid  | upgrade     |
      | HCALCS | hcalcs | two-devices |

  @FRAG-1 @device
  Scenario Outline: The <kind> requests the whole file without gaps (<size>)
    From RC Q10 (Green Energy Options: fragmented images) and the ZCL OTA Upgrade cluster.
    The same rule holds whatever the image size. A row whose image goes in parts needs a
    download in several OTA files in the trace.
    Given the device "<device>"
    And the image goes <delivery>
    When the "<exchange>" exchange is captured
    Then the device's block requests cover the file without gaps

    Examples:
      | kind   | device | exchange      | size           | delivery        |
      | PPMID  | ppmid  | upgrade       | 64 KiB image   | in one OTA file |
      | PPMID  | ppmid  | upgrade-large | 1 MiB in parts | in parts        |
      | HCALCS | hcalcs | two-devices   | 48 KiB image   | in one OTA file |

  @FRAG-2 @chf
  Scenario: The Communications Hub says when to come back
    From RC Q1 (Shell Energy Retail: "the shared limited buffer space on the Comms Hub")
    and the ZCL OTA Upgrade cluster's WAIT_FOR_DATA status.
    Given the device "ppmid"
    When the "upgrade" exchange is captured
    Then every WAIT_FOR_DATA carries a current time, a later request time and a block period

  @FRAG-2 @device
  Scenario: The device waits when told WAIT_FOR_DATA
    From RC Q1 (Shell Energy Retail: congested WAN, shared limited buffer) and the ZCL OTA
    Upgrade cluster.
    Given the device "ppmid"
    When the "upgrade" exchange is captured
    Then the device waits until the request time and asks again for the same offset

  @FRAG-3 @device
  Scenario Outline: The <kind> paces its block requests
    From WG Q1 and Q7 (SSE Networks: meter communication and capacity must not suffer
    while a HAN device upgrades).
    Given the device "<device>"
    When the "<exchange>" exchange is captured
    Then the device asks for blocks no faster than the minimum block period

    Examples:
      | kind   | device | exchange    |
      | PPMID  | ppmid  | upgrade     |
      | HCALCS | hcalcs | two-devices |

  @FRAG-4 @device @active
  Scenario: A download interrupted by losses and a reset resumes where it stopped
    From RC Q1 (Shell Energy Retail: "congested and ... unreliable delivery method") and
    the ZCL OTA Upgrade cluster (FileOffset). The air loses 10 % of frames and the device
    restarts mid-download. A WAIT_FOR_DATA is not an interruption: a trace without a lost
    request or a reset is inconclusive.
    Given the device "ppmid"
    When the "upgrade-lossy" exchange is captured
    Then after a lost request or a reset the device resumes from its last good offset, never from zero

  @FRAG-4 @device @active
  Scenario: A download the Communications Hub abandons is never activated
    From RC Q1 (Shell Energy Retail: unreliable delivery) and the ZCL OTA Upgrade cluster.
    The Comms Hub stops answering half way.
    Given the device "ppmid"
    When the "upgrade-abandoned" exchange is captured
    Then the device ends the download with ABORT or a time-out and never activates it

  @FRAG-5 @device
  Scenario: The device takes a large image in parts
    Interpretation, behind PICS large_image_process. From WG Q7 (E.ON: the diagram of the
    process for images of 750 KB and above) and RC Q2 (Green Energy Options: "how larger
    image sizes are handled").
    Given the PICS claims large_image_process
    And the device "ppmid"
    When the "upgrade-large" exchange is captured
    Then the device answers REQUIRE_MORE_IMAGE for every part but the last

  @FRAG-5 @chf
  Scenario: The Communications Hub sends a large image in parts
    Interpretation, behind PICS large_image_process; the image store limit is a PIXIT
    value. From WG Q7 (E.ON: the first image sets "the activation date-time as zero (i.e.
    'active now')") and RC Q8 (Green Energy Options: images larger than the CH can handle).
    Given the PICS claims large_image_process
    And the device "ppmid"
    When the "upgrade-large" exchange is captured
    Then the Comms Hub sends the image as several OTA files within its store limit

  @FRAG-6 @chf
  Scenario: Other HAN traffic is served during a download
    From WG Q1 (SSE Networks: "our ability to communicate with a meter whilst an IHD or
    PPMID firmware upgrade is in progress").
    Given the device "ppmid"
    When the "upgrade" exchange is captured
    Then a meter read during the download is answered in its normal time
