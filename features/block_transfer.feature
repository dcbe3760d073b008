@block_transfer
Feature: Block transfer - the image moves in blocks, paced, resumable, in parts
  The device pulls the image with Image Block Requests. The Comms Hub serves exactly what
  is asked or says WAIT_FOR_DATA; the device paces itself so the HAN is not starved,
  resumes after interruptions, and takes large images in parts.

  @FRAG-1 @chf
  Scenario Outline: The Communications Hub serves exactly the requested bytes to the <kind>
    From RC Q10 (Green Energy Options: "the implementation of fragmented images") and the
    ZCL OTA Upgrade cluster.
    Fail: a block response that does not echo the request's manufacturer code, image
    type and file version, serves another offset (outside the page, for Image Page
    Request), more than maximum_data_size bytes, a data_size that is not the data's
    length, or bytes that differ from the delivered OTA file at their offset. Without the
    delivered file to compare with, the verdict is INCONCLUSIVE.
    Given a capture of <situation>
    And the device "<device>"
    Then every block response serves exactly the requested bytes of the OTA file

    Examples:
      | kind   | device | situation                                              |
      | PPMID  | ppmid  | a conformant upgrade of the PPMID                      |
      | HCALCS | hcalcs | a PPMID and an HCALCS upgraded at once for two suppliers |

  @FRAG-1 @device
  Scenario Outline: The <kind> requests the whole file without gaps (<delivery>)
    From RC Q10 (Green Energy Options: fragmented images) and the ZCL OTA Upgrade cluster.
    The same rule holds for an image in one OTA file and one sent in parts; the row in
    parts needs a download in several OTA files.
    Fail: a request for an offset beyond what the device can have received (a gap), a
    request back into what it already asked past that is no retry of the same offset
    and follows no restart (an overlap), or Upgrade End Request SUCCESS before it asked
    for the last bytes.
    Given a capture of <situation>
    And the device "<device>"
    And the image goes <delivery>
    Then the device's block requests cover the file without gaps or overlaps

    Examples:
      | kind   | device | delivery        | situation                                              |
      | PPMID  | ppmid  | in one OTA file | a conformant upgrade of the PPMID                      |
      | PPMID  | ppmid  | in parts        | a large image for the PPMID, above the store limit     |
      | HCALCS | hcalcs | in one OTA file | a PPMID and an HCALCS upgraded at once for two suppliers |

  @FRAG-2 @chf
  Scenario: The Communications Hub says when to come back
    From RC Q1 (Shell Energy Retail: "the shared limited buffer space on the Comms Hub")
    and the ZCL OTA Upgrade cluster's WAIT_FOR_DATA status.
    Fail: a WAIT_FOR_DATA (0x97) without current_time, request_time or
    minimum_block_period, or with a request_time before its current_time.
    Given a capture of a conformant upgrade of the PPMID
    And the device "ppmid"
    Then every WAIT_FOR_DATA carries a current time, a later request time and a block period

  @FRAG-2 @device
  Scenario: The device waits when told WAIT_FOR_DATA
    From RC Q1 (Shell Energy Retail: congested WAN, shared limited buffer) and the ZCL OTA
    Upgrade cluster.
    Fail: the device asks again before request_time minus current_time has passed, or
    resumes at another offset.
    Given a capture of a conformant upgrade of the PPMID
    And the device "ppmid"
    Then the device waits until the request time and asks again for the same offset

  @FRAG-3 @device
  Scenario Outline: The <kind> paces its block requests
    From WG Q1 and Q7 (SSE Networks: meter communication and capacity must not suffer
    while a HAN device upgrades). Only periods the Comms Hub gave on the air count: a
    WAIT_FOR_DATA's minimum_block_period, or the MinimumBlockPeriod attribute it wrote.
    A device fetching by Image Page Request is paced by the Comms Hub, not judged here.
    Fail: two block requests closer than that period.
    Given a capture of <situation>
    And the device "<device>"
    Then the device asks for blocks no faster than the minimum block period the Comms Hub gave

    Examples:
      | kind   | device | situation                                              |
      | PPMID  | ppmid  | a conformant upgrade of the PPMID                      |
      | HCALCS | hcalcs | a PPMID and an HCALCS upgraded at once for two suppliers |

  @FRAG-4 @device @active
  Scenario: A download interrupted by losses and a reset resumes where it stopped
    From RC Q1 (Shell Energy Retail: "congested and ... unreliable delivery method") and
    the ZCL OTA Upgrade cluster (FileOffset). An interruption is one seen on the air: a
    request left unanswered and asked again, a new query or a rejoin during the download,
    a return to an earlier offset after silence. A WAIT_FOR_DATA or a pause is not one.
    Fail: after an interruption the device asks for an offset below what it had asked
    past (from zero, for instance).
    Given a capture of an upgrade of the PPMID interrupted by lost frames and a reset
    And the device "ppmid"
    Then after a lost request or a reset the device resumes from its last good offset, never from zero

  @FRAG-4 @device @active
  Scenario: A download the Communications Hub abandons is never activated
    From RC Q1 (Shell Energy Retail: unreliable delivery) and the ZCL OTA Upgrade cluster.
    The Comms Hub stops answering half way.
    Pass: Upgrade End Request ABORT (0x95), or no more requests 30 s after the last one.
    Fail: Upgrade End Request SUCCESS on the download the Comms Hub stopped serving.
    Given a capture of an upgrade the Comms Hub stops serving half way
    And the device "ppmid"
    Then the device ends the download with ABORT or a time-out and never activates it

  @FRAG-5 @device
  Scenario: The device takes a large image in parts
    Interpretation, behind PICS large_image_process. From WG Q7 (E.ON: the diagram of the
    process for images of 750 KB and above) and RC Q2 (Green Energy Options: "how larger
    image sizes are handled").
    Fail: Upgrade End Request SUCCESS on a part another part follows (or that its file
    marks as not the last), or a part but the last ending other than REQUIRE_MORE_IMAGE
    (0x99).
    Given the PICS claims large_image_process
    And a capture of a large image for the PPMID, above the store limit
    And the device "ppmid"
    Then the device answers REQUIRE_MORE_IMAGE for every part but the last

  @FRAG-5 @chf
  Scenario: The Communications Hub sends a large image in parts
    Interpretation, behind PICS large_image_process. From WG Q7 (E.ON: the first image
    sets "the activation date-time as zero (i.e. 'active now')") and RC Q8 (Green Energy
    Options: images larger than the CH can handle).
    Fail: a part larger than the image store (PIXIT image_store_limit), or the first
    part's Upgrade End Response with an upgrade_time other than 0 or its current_time.
    Given the PICS claims large_image_process
    And a capture of a large image for the PPMID, above the store limit
    And the device "ppmid"
    Then the Comms Hub sends the image as several OTA files within its store limit (PIXIT image_store_limit)

  @FRAG-6 @chf
  Scenario: Other HAN traffic is served during a download
    From WG Q1 (SSE Networks: "our ability to communicate with a meter whilst an IHD or
    PPMID firmware upgrade is in progress"). Only the device's reads of the Comms Hub's
    metering cluster count, not the Comms Hub reading the device.
    Fail: such a read during the download not answered within 5 s.
    Given a capture of a conformant upgrade of the PPMID
    And the device "ppmid"
    Then a meter read during the download is answered within 5 s
