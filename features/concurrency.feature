@concurrency
Feature: Concurrency - two devices, two suppliers
  A PPMID and an HCALCS can be upgraded at the same time, each with its own image, and
  each update is reported to the supplier that asked for it.

  @CONC-1 @chf @active
  Scenario: A PPMID and an HCALCS upgraded at once each get their own image
    From RC Q2 (SSE: "significant testing for every combination of newly upgradeable HAN
    Devices with all Comms Hubs").
    Fail: a device offered or served an image whose manufacturer code, image type or file
    version is not that of an image held for it, or a device without its own CCS08 alert.
    Given a capture of a PPMID and an HCALCS upgraded at once for two suppliers
    Then each device gets its own image and its own alerts

  @CONC-2 @chf @active
  Scenario: Each supplier is told about the update it requested
    From RC Q10 (SSE: dual supplier - "either of the Responsible Suppliers ... to submit
    the relevant Service Requests"). Who requested each device's update is in the DUT
    description (PIXIT requesters; by default the PPMID's by supplier_id and the HCALCS's
    by second_supplier_id). It needs alerts for both devices, each requested by a
    different supplier: a capture with alerts for only one of them is INCONCLUSIVE.
    Fail: an alert about a device addressed to another supplier than its requester.
    Given a capture of a PPMID and an HCALCS upgraded at once for two suppliers
    And each device's update was requested by the supplier the DUT description names (PIXIT requesters)
    Then each device's alerts go to the supplier that requested its update
