"""The DUT description model: what a run is told about the devices under test.

Why a room of its own: the description (PICS + PIXIT: nodes, addresses, keys, images,
claims), the OTA files its images stand for and the situations a scenario is judged in are
read by every layer above the codecs: the emulators build the HAN it describes, the
targets find its captures and keys, ``verify`` judges a trace against its claims, the
steps and the ``hanota`` command read it. Living in any one of those rooms would make the
others look up into it; here it sits just above ``layers/`` (the only package it imports)
and below all of them. The emulated HAN's own description, ``default_dut.toml`` (what
``load_dut()`` reads without a file), is package data here for the same reason.

- ``description``: ``Dut``, ``load_dut``, ``Node``, ``Image``, ``DEVICE_KINDS`` (the TOML
  DUT file, read and checked)
- ``images``: the OTA files an image of the description stands for (given or synthesised)
- ``situations``: the situations a scenario is judged in, by id and Gherkin phrase
"""
