@concurrency
Feature: Concurrency - two devices, two suppliers
  A PPMID and an HCALCS can be upgraded at the same time, each with its own image, and
  each update is reported to the supplier that asked for it.

  @CONC-1 @chf @active
  Scenario: A PPMID and an HCALCS upgraded at once each get their own image
    From RC Q2 (SSE: "significant testing for every combination of newly upgradeable HAN
    Devices with all Comms Hubs").
    When the "two-devices" exchange is captured
    Then each device gets its own image and its own alerts

  @CONC-2 @chf @active
  Scenario: Each supplier is told about the update it requested
    From RC Q10 (SSE: dual supplier - "either of the Responsible Suppliers ... to submit
    the relevant Service Requests"). It needs alerts for both devices, each requested by a
    different supplier: a trace with alerts for only one of them is INCONCLUSIVE.
    Given the update of "ppmid" was requested by the supplier "supplier_id"
    And the update of "hcalcs" was requested by the supplier "second_supplier_id"
    When the "two-devices" exchange is captured
    Then each device's alerts go to the supplier that requested its update
