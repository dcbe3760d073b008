@version_report
Feature: Version report - the supplier learns the version really running
  After the activation the Comms Hub reads the device's CurrentFileVersion itself and
  reports to the supplier in signed GBCS alerts (CCS08 Firmware Transfer Alert, CS08
  Read Firmware Version alert); SR 11.2 reads it on demand.

  @VER-1 @chf
  Scenario Outline: The Communications Hub reads the <kind>'s version back
    From RC Q8 (Chameleon Technology: "after a timeout the comms hub reads back the
    version", with "a preference for the comms hub polling the device").
    Fail: the read (ZCL Read Attributes of attribute 0x0002, server to client) comes
    before the time-out, more than 60 s after it, or not at all; or a CS08 alert 0x8F8B
    reports a version the Comms Hub never read. A CCS08 transfer alert is no version
    report.
    Given a capture of <situation>
    And the device "<device>"
    Then the Comms Hub reads CurrentFileVersion after the read-back time-out (PIXIT readback_timeout_s) and within 60 s of it

    Examples:
      | kind   | device | situation                                              |
      | PPMID  | ppmid  | a conformant upgrade of the PPMID                      |
      | HCALCS | hcalcs | a PPMID and an HCALCS upgraded at once for two suppliers |

  @VER-1 @device
  Scenario: The device answers the version read
    From RC Q8 (Chameleon Technology: the comms hub polls the device).
    Fail: a read of CurrentFileVersion after the activation not answered within 10 s.
    Given a capture of a conformant upgrade of the PPMID
    And the device "ppmid"
    Then the device answers the read with its running version within 10 s

  @VER-2 @chf
  Scenario Outline: The CS08 alert tells the supplier the version the <kind> runs
    From GBCS CS08 and RC Q1 (Shell Energy Retail: firmware upgraded "but has not been
    updated in SMI, which still holds the 'old' firmware version").
    Fail: the CS08 alert (message code 0x0129, alert code 0x8F8B) after the read-back
    carries another version than the one read, or an activateImage other than the one
    below.
    Given a capture of <situation>
    And the device "<device>"
    Then the CS08 alert carries the version read, and activateImage 0 (Success) when it equals the image's file version, else 1 (Failure)

    Examples:
      | kind   | device | situation                                              |
      | PPMID  | ppmid  | a conformant upgrade of the PPMID                      |
      | HCALCS | hcalcs | a PPMID and an HCALCS upgraded at once for two suppliers |

  @VER-3 @chf
  Scenario Outline: The CCS08 alert reports <outcome>
    From GBCS CCS08 (message code 0x0128): the alert code and response code of what
    happened on the HAN. Which response code an outcome gets is our reading of CCS08's
    codes (0 Success, 1 Image Discarded, 2 Hardware Version Mismatch, 3 File Transfer
    Failure); a DUT description may give its own (PIXIT ccs08_response_codes). Each row
    needs its own outcome in the capture: without it the row is INCONCLUSIVE.
    Fail: the first timed CCS08 alert for the device after the outcome carries another
    alert code, a response code not listed, or a firmware version that is not the
    image's.
    Given a capture of <situation>
    And the device "ppmid"
    Then the HAN shows <outcome> and the CCS08 alert carries alert code <alert code> and response code <response code>

    Examples:
      | outcome                      | alert code | response code | situation                                        |
      | a successful transfer        | 0x8F8A     | 0             | a conformant upgrade of the PPMID                |

    @active
    Examples: failures
      | outcome                      | alert code | response code | situation                                        |
      | a hardware version mismatch  | 0x8F89     | 2             | an image whose hardware range excludes the PPMID |
      | a refused corrupt image      | 0x8F89     | 1 or 3        | a corrupt image for the PPMID                    |
      | an abandoned transfer        | 0x8F89     | 3             | an upgrade the Comms Hub stops serving half way  |

  @VER-4 @chf @active
  Scenario: SR 11.2 reads the version on demand
    From RC Q1 (Shell Energy Retail: "It has been necessary to run SR11.2 (Read Firmware
    Version) to validate the device firmware version"). The supplier sends the CS08
    command twice, the second time with the PPMID switched off. A command and its
    response are paired by transaction id.
    Fail: a CS08 response without a read of the device between the command and it; Read
    Success (response code 0) when the device did not answer, or with another version
    than the one read; Read Failure (1) when it answered.
    Given a capture of SR 11.2 reads of the PPMID, the second while it is off
    And the device "ppmid"
    Then each CS08 command is answered after a read: Read Success (0) with the version read, or Read Failure (1)

  @VER-5 @device
  Scenario: A device that announces its version still answers the read
    Optional, behind PICS version_event. From RC Q8 (Chameleon Technology: "We would
    support either option, with a preference for the comms hub polling the device").
    Fail: after announcing its version (ZCL Report Attributes of 0x0002) the device does
    not answer the Comms Hub's read within 10 s.
    Given the PICS claims version_event
    And a capture of an upgrade of a PPMID that announces its new version
    And the device "ppmid"
    Then the device still answers the Comms Hub's read after announcing its version

  @VER-5 @chf
  Scenario: The read, not the announcement, decides the report
    From RC Q8 (Chameleon Technology: an event mechanism "could only be used by a device
    that had successfully received a firmware upgrade").
    Fail: a CS08 alert 0x8F8B after the device's announcement and before any read.
    Given a capture of an upgrade of a PPMID that announces its new version
    And the device "ppmid"
    Then the Comms Hub still reads the version and reports the value read

  @VER-6 @chf
  Scenario Outline: The Communications Hub signs its alerts (<situation>)
    From GBCS General Signing (ECDSA P-256 / SHA-256) and the RTDS CCS08 vector.
    Fail: an alert from the Comms Hub without a signature, or one that does not verify
    with its certificate. Without the certificate the verdict is INCONCLUSIVE.
    Given a capture of <situation>
    Then every GBCS alert from the Comms Hub carries a valid signature

    Examples:
      | situation                                        |
      | a conformant upgrade of the PPMID                |
      | an image whose hardware range excludes the PPMID |
