@version_report
Feature: Version report - the supplier learns the version really running
  After the activation the Comms Hub reads the device's CurrentFileVersion itself and
  reports to the supplier in signed GBCS alerts (CCS08 Firmware Transfer Alert, CS08
  Read Firmware Version alert); SR 11.2 reads it on demand.

  @VER-1 @chf
  Scenario Outline: The Communications Hub reads the <kind>'s version back
    From RC Q8 (Chameleon Technology: "after a timeout the comms hub reads back the
    version", with "a preference for the comms hub polling the device").
    Given the device "<device>"
    When the "<exchange>" exchange is captured
    Then the Comms Hub reads CurrentFileVersion after the read-back time-out

    Examples:
      | kind   | device | exchange    |
      | PPMID  | ppmid  | upgrade     |
      | HCALCS | hcalcs | two-devices |

  @VER-1 @device
  Scenario: The device answers the version read
    From RC Q8 (Chameleon Technology: the comms hub polls the device).
    Given the device "ppmid"
    When the "upgrade" exchange is captured
    Then the device answers the read with its running version

  @VER-2 @chf
  Scenario Outline: The CS08 alert tells the supplier the version the <kind> runs
    From GBCS CS08 and RC Q1 (Shell Energy Retail: firmware upgraded "but has not been
    updated in SMI, which still holds the 'old' firmware version").
    Given the device "<device>"
    When the "<exchange>" exchange is captured
    Then the CS08 alert carries the version read and Success only if it is the image's

    Examples:
      | kind   | device | exchange    |
      | PPMID  | ppmid  | upgrade     |
      | HCALCS | hcalcs | two-devices |

  @VER-3 @chf
  Scenario Outline: The CCS08 alert reports <outcome>
    From GBCS CCS08: alert 0x8F8A on success, 0x8F89 on failure, with the response code
    of what happened on the HAN. Each row needs its own outcome in the trace: a capture
    without it is INCONCLUSIVE for that row.
    Given the device "ppmid"
    When the "<exchange>" exchange is captured
    Then the HAN shows <outcome> and the CCS08 alert reports it

    Examples:
      | outcome                    | exchange    |
      | a successful transfer      | upgrade     |

    @active
    Examples: failures
      | outcome                    | exchange              |
      | a hardware version mismatch | upgrade-hw-mismatch   |
      | a refused corrupt image    | upgrade-invalid-image |
      | an abandoned transfer      | upgrade-abandoned     |

  @VER-4 @chf @active
  Scenario: SR 11.2 reads the version on demand
    From RC Q1 (Shell Energy Retail: "It has been necessary to run SR11.2 (Read Firmware
    Version) to validate the device firmware version"). The supplier sends the CS08
    command twice, the second time with the PPMID switched off.
    Given the device "ppmid"
    When the "read-version" exchange is captured
    Then each CS08 command is answered after a read: Read Success or Read Failure

  @VER-5 @device
  Scenario: A device that announces its version still answers the read
    Optional, behind PICS version_event. From RC Q8 (Chameleon Technology: "We would
    support either option, with a preference for the comms hub polling the device").
    Given the PICS claims version_event
    And the device "ppmid"
    When the "version-event" exchange is captured
    Then the device still answers the Comms Hub's read after announcing its version

  @VER-5 @chf
  Scenario: The read, not the announcement, decides the report
    From RC Q8 (Chameleon Technology: an event mechanism "could only be used by a device
    that had successfully received a firmware upgrade").
    Given the device "ppmid"
    When the "version-event" exchange is captured
    Then the Comms Hub still reads the version and reports the value read

  @VER-6 @chf
  Scenario Outline: The Communications Hub signs its alerts (<exchange>)
    From GBCS General Signing (ECDSA P-256 / SHA-256) and the RTDS CCS08 vector.
    When the "<exchange>" exchange is captured
    Then every GBCS alert from the Comms Hub carries a valid signature

    Examples:
      | exchange            |
      | upgrade             |
      | upgrade-hw-mismatch |
