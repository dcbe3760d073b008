"""The DUT description: the default file loads, and a wrong one names the key at fault."""

import pytest

from hanota.dut import DutError, load_dut, parse_dut


def test_default_description_describes_the_emulated_han() -> None:
    dut = load_dut()
    assert dut.role == "both"
    assert dut.dut.kind == "ppmid"
    assert dut.chf.eui64 == "00DB1234567890A2"
    assert {node.kind for node in dut.nodes.values()} == {"chf", "ppmid", "hcalcs", "ihd", "cad"}
    assert dut.images["ppmid-large"].size == 1 << 20
    assert dut.node_by_short(0x4A31) is dut.nodes["ppmid"]
    assert dut.node_by_eui64("00db1234567890a5") is dut.nodes["hcalcs"]
    assert len(dut.network_key) == 16


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (('role = "both"', 'role = "meter"'), "dut.role"),
        (('node = "ppmid"', 'node = "nobody"'), "dut.node"),
        (('eui64 = "00DB1234567890A4"', 'eui64 = "00DB12"'), "nodes.ppmid.eui64"),
        (('network_key = "01030507090B0D0F00020406080A0C0D"', 'network_key = "0103"'),
         "network.network_key"),
        (('target = "hcalcs"', 'target = "meter"'), "images.hcalcs.target"),
        (("readback_timeout_s = 30", "readback_timout_s = 30"), "[pixit]"),
    ],
)
def test_wrong_description_names_the_key(change: tuple[str, str], message: str) -> None:
    from importlib import resources

    text = resources.files("emulators").joinpath("default_dut.toml").read_text()
    assert change[0] in text
    with pytest.raises(DutError, match=message.replace("[", r"\[").replace(".", r"\.")):
        parse_dut(text.replace(change[0], change[1], 1))
