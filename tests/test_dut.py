"""The DUT description: the default file loads, and a wrong one names the key at fault."""

import pytest
from hanota.dut.description import NOT_STATED, DutError, Identity, load_dut, parse_dut


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
        (('model = "Emulated PPMID"', "model = 7"), "dut.model"),
        (('model = "Emulated Comms Hub"', 'modle = "Hub"'), "[dut.peer]"),
    ],
)
def test_wrong_description_names_the_key(change: tuple[str, str], message: str) -> None:
    from importlib import resources

    text = resources.files("hanota.dut").joinpath("default_dut.toml").read_text()
    assert change[0] in text
    with pytest.raises(DutError, match=message.replace("[", r"\[").replace(".", r"\.")):
        parse_dut(text.replace(change[0], change[1], 1))


def _default_text() -> str:
    from importlib import resources

    return resources.files("hanota.dut").joinpath("default_dut.toml").read_text()


def test_identity_keys_are_optional_and_say_not_stated() -> None:
    """A description without identity keys (every one written before them) still loads."""
    text = _default_text().split("# Identity of the product", 1)[0] + \
        _default_text().split('firmware_version = "emulator"\n', 1)[1]
    dut = parse_dut(text)
    assert dut.identity == dut.peer == Identity()
    assert dut.device_identity.model == dut.chf_identity.firmware_version == NOT_STATED


@pytest.mark.parametrize(("role", "device", "chf"), [
    ("device", "Emulated PPMID", "Emulated Comms Hub"),
    ("both", "Emulated PPMID", "Emulated Comms Hub"),
    ("chf", "Emulated Comms Hub", "Emulated PPMID"),
])
def test_dut_and_peer_name_the_device_and_the_comms_hub_by_role(
        role: str, device: str, chf: str) -> None:
    """[dut] is the product under test, [dut.peer] the other side: for role chf the
    [dut] keys describe the Comms Hub."""
    dut = parse_dut(_default_text().replace('role = "both"', f'role = "{role}"', 1))
    assert (dut.device_identity.model, dut.chf_identity.model) == (device, chf)
    assert dut.identity.hardware_version == "2" and dut.peer.hardware_version == NOT_STATED
