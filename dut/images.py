"""The OTA files an image of the DUT description stands for: its file, or one synthesised.

Why synthesised: the DUT file gives an image by size and version; the emulator turns that
into a real OTA file (header with the target's manufacturer code and image type, the
hardware range, an upgrade-image element of seeded pseudo-random bytes, the integrity code
tag 0x0003) so that the same description always yields the same bytes, and the suite can
rebuild them with ``ota_files`` to compare what a device received.

Large images (FRAG-5, an interpretation): an image bigger than the CHF's image store limit
goes as several OTA files, each within the limit, each with its own integrity code and a
manufacturer-specific element ``PART_TAG`` holding (part index, part count) so the device
knows whether to answer REQUIRE_MORE_IMAGE.
"""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from hanota.dut.description import Dut, Image, Node
from hanota.layers.ota_containers import FoundOtaFile, find_ota_file
from hanota.layers.otafile import (
    ELEMENT_HEADER_SIZE,
    INTEGRITY_CODE_SIZE,
    TAG_UPGRADE_IMAGE,
    OtaFile,
    SubElement,
    build_ota_file,
    header_length_for,
)

LOG = logging.getLogger(__name__)
PART_TAG = 0xF000
PART_ELEMENT_SIZE = ELEMENT_HEADER_SIZE + 2
INTEGRITY_ELEMENT_SIZE = ELEMENT_HEADER_SIZE + INTEGRITY_CODE_SIZE


@dataclass(frozen=True)
class ImageIdentity:
    """What a Query Next Image Response announces and block requests echo."""

    manufacturer_code: int
    image_type: int
    file_version: int


def identity(dut: Dut, image: Image) -> ImageIdentity:
    target = dut.nodes[image.target]
    return ImageIdentity(target.manufacturer_code, target.image_type, image.file_version)


def _header(target: Node, image: Image, label: str) -> OtaFile:
    return OtaFile(
        manufacturer_code=target.manufacturer_code,
        image_type=target.image_type,
        file_version=image.file_version,
        zigbee_stack_version=target.stack_version,
        header_string=label[:32],
        minimum_hardware_version=image.min_hardware_version,
        maximum_hardware_version=image.max_hardware_version,
    )


def _corrupted(data: bytes) -> bytes:
    """Flip the last byte: the integrity code is the file's last element."""
    return data[:-1] + bytes((data[-1] ^ 0xFF,))


def _overhead(ota: OtaFile, *extra: int) -> int:
    return (header_length_for(ota.field_control) + ELEMENT_HEADER_SIZE + INTEGRITY_ELEMENT_SIZE
            + sum(extra))


@lru_cache(maxsize=8)
def vendor_file(path: Path) -> FoundOtaFile:
    """The OTA file in a file given by the DUT description, as its vendor published it
    (bare, in a manufacturer's container, or with bytes after the image: logged)."""
    found = find_ota_file(path.read_bytes())
    if found.container is not None:
        LOG.warning("%s: OTA file at offset %d of a %s", path, found.offset, found.container.name)
    for warning in found.warnings:
        LOG.warning("%s: %s", path, warning)
    return found


def ota_file_size(image: Image) -> int:
    """Bytes of the OTA file the CHF serves for ``image`` unsplit: the synthetic size, or
    the standard OTA file found in the given file (not the size of a container)."""
    if image.file is not None:
        return len(vendor_file(Path(image.file)).data)
    assert image.size is not None
    return image.size


def _payload(target: Node, image: Image) -> bytes:
    """The upgrade-image bytes: from the given file, or seeded pseudo-random bytes sized so
    that the whole synthetic file is ``size`` bytes."""
    if image.file is not None:
        return vendor_file(Path(image.file)).ota.image() or b""
    assert image.size is not None
    overhead = _overhead(_header(target, image, ""))
    if image.size < overhead:
        raise ValueError(f"image {image.name}: size {image.size} below the {overhead}-byte minimum")
    seed = f"hanota:{image.name}:{image.file_version}"
    return random.Random(seed).randbytes(image.size - overhead)


def _build(ota: OtaFile, image: Image) -> bytes:
    data = build_ota_file(ota, append_integrity_code=True)
    return _corrupted(data) if image.corrupt else data


@lru_cache(maxsize=16)
def _files(target: Node, image: Image, store_limit: int, split: bool) -> tuple[bytes, ...]:
    """Cached: hashing a large image (AES-MMO, tag 0x0003) costs about a second per MiB."""
    if not split:
        if image.file is not None:
            return (vendor_file(Path(image.file)).data,)
        ota = _header(target, image, f"hanota {image.name}")
        ota.elements.append(SubElement(TAG_UPGRADE_IMAGE, _payload(target, image)))
        return (_build(ota, image),)
    payload = _payload(target, image)
    room = store_limit - _overhead(_header(target, image, ""), PART_ELEMENT_SIZE)
    count = -(-len(payload) // room)
    chunk = -(-len(payload) // count)
    files = []
    for index in range(count):
        ota = _header(target, image, f"hanota {image.name} {index + 1}/{count}")
        ota.elements.append(
            SubElement(TAG_UPGRADE_IMAGE, payload[index * chunk : (index + 1) * chunk])
        )
        ota.elements.append(SubElement(PART_TAG, bytes((index, count))))
        files.append(_build(ota, image))
    return tuple(files)


def needs_split(dut: Dut, image: Image) -> bool:
    """Whether the large-image process applies: bigger than the store and PICS claims it."""
    return dut.pics.large_image_process and ota_file_size(image) > dut.pixit.image_store_limit


def ota_files(dut: Dut, image_name: str, *, split: bool | None = None) -> list[bytes]:
    """The OTA file(s) the CHF serves for ``image_name``, in order (one unless split).

    ``split`` None follows ``needs_split``; the CHF fault ``no-large-image-split`` passes
    False to serve a large image whole. A split image's parts carry the same upgrade-image
    bytes as the whole file would, cut in equal chunks.
    """
    image = dut.images[image_name]
    split = needs_split(dut, image) if split is None else split
    return list(_files(dut.nodes[image.target], image, dut.pixit.image_store_limit, split))


def part_of(ota: OtaFile) -> tuple[int, int]:
    """(index, count) of a multi-part file; (0, 1) for an ordinary one."""
    for element in ota.elements:
        if element.tag == PART_TAG and len(element.data) == 2:
            return element.data[0], element.data[1]
    return 0, 1
