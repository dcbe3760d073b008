"""Decoding a capture file on several processes, output in capture order.

Why this shape: decryption and field decoding are CPU-bound Python, so one process per
core is the only way to use a second core. Records are numbered in batches of
``batch_size``; worker k parses the whole file itself (reading costs ~1 µs a record) and
decodes and formats only the batches with ``batch % jobs == k``, so no record crosses a
process boundary, only the formatted text. The parent reads the batches from the
workers' pipes in batch order: the output is exactly the single-process output, and a
worker that runs ahead blocks on its pipe, which keeps memory bounded.

Decoding is stateful (keys learnt from Transport-Key commands, APS fragments, MAC
retries: ``hanota.layers.dissector``), so every worker runs its own dissector over every
record: it decodes its own batches, and only looks at the others' (``observe``), which
costs a header read for most frames and a full decode only for those that can teach.
"""

from __future__ import annotations

import json
import multiprocessing
import traceback
from collections.abc import Callable, Generator, Iterator
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from hanota.layers.capture_unwrap import FCS_AUTO
from hanota.layers.dissector import Dissector
from hanota.layers.model import DecodeError, FrameRecord
from hanota.layers.security import KeyRing
from hanota.targets.pcap import (
    DecodeTally,
    capture_records,
    decode_record,
    detect_fcs_format,
    observe_record,
)

_BATCH, _END, _CRASH = b"B", b"E", b"X"


def _worker(
    path: Path | str, keys: KeyRing, line: Callable[[FrameRecord], str], jobs: int,
    index: int, batch_size: int, pipe: Connection, fcs_format: str,
) -> None:
    """Worker ``index``: decode and send its batches, then its counts (and the capture's
    error, if it breaks off). A batch whose records carry no frame is sent empty: the
    parent counts on one message per batch."""
    tally = DecodeTally()
    dissector = Dissector(keys)
    lines: list[str] = []
    current = index  # the batch being collected
    collecting = False
    error = None
    try:
        with open(path, "rb") as stream:
            for record in capture_records(stream):
                batch = (record.number - 1) // batch_size
                if batch % jobs != index:
                    observe_record(record, dissector, fcs_format)
                    continue
                if batch != current:
                    pipe.send_bytes(_BATCH + "".join(lines).encode())
                    lines.clear()
                    current = batch
                collecting = True
                frame = decode_record(record, keys, fcs_format, dissector)
                if frame is None:
                    tally.skipped += 1
                    continue
                tally.frames += 1
                tally.errors += frame.error is not None
                lines.append(line(frame) + "\n")
    except DecodeError as caught:
        error = [caught.layer, caught.field, caught.offset, caught.reason]
    except Exception:  # a bug: the parent says so instead of waiting forever
        pipe.send_bytes(_CRASH + traceback.format_exc().encode())
        return
    if collecting:
        pipe.send_bytes(_BATCH + "".join(lines).encode())
    ending = {"frames": tally.frames, "errors": tally.errors, "skipped": tally.skipped,
              "error": error}
    pipe.send_bytes(_END + json.dumps(ending).encode())


def decode_file_parallel(
    path: Path | str, keys: KeyRing, line: Callable[[FrameRecord], str], tally: DecodeTally,
    jobs: int, batch_size: int = 2048, fcs_format: str = FCS_AUTO,
) -> Iterator[str]:
    """The formatted lines of every frame of ``path``, one string per batch, in order.

    ``line`` formats one FrameRecord (it runs in the workers, which are forked, so any
    callable works). Counts are added to ``tally`` at the end. Raises ``DecodeError``
    after the batches before it when the capture is malformed or cut short. The FCS
    convention is decided once, here, so every worker decodes under the same one.
    """
    detector = detect_fcs_format(path, fcs_format)
    decided = detector.finish()
    tally.fcs_format, tally.fcs_note = decided, detector.description
    context = multiprocessing.get_context("fork")
    pipes: list[Connection] = []
    workers = []
    for index in range(jobs):
        reader, writer = context.Pipe(duplex=False)
        worker = context.Process(
            target=_worker, args=(path, keys, line, jobs, index, batch_size, writer, decided),
            daemon=True,
        )
        worker.start()
        writer.close()
        pipes.append(reader)
        workers.append(worker)
    try:
        endings = yield from _merge(pipes)
    finally:
        for worker in workers:
            if worker.is_alive():
                worker.terminate()
            worker.join()
        for pipe in pipes:
            pipe.close()
    error = None
    for ending in endings:
        tally.frames += ending["frames"]
        tally.errors += ending["errors"]
        tally.skipped += ending["skipped"]
        error = error or ending["error"]
    if error is not None:
        raise DecodeError(*error)


def _receive(pipe: Connection) -> tuple[bytes, bytes]:
    try:
        message = pipe.recv_bytes()
    except EOFError:
        raise RuntimeError("a decode worker died without a word") from None
    if message[:1] == _CRASH:
        raise RuntimeError(f"a decode worker failed:\n{message[1:].decode()}")
    return message[:1], message[1:]


def _merge(pipes: list[Connection]) -> Generator[str, None, list[dict[str, Any]]]:
    """Batch 0 from worker 0, batch 1 from worker 1, ... until a worker has no next batch
    (then no later batch exists anywhere); returns every worker's closing counts."""
    endings: dict[int, dict[str, Any]] = {}
    batch = 0
    while True:
        owner = batch % len(pipes)
        kind, payload = _receive(pipes[owner])
        if kind == _END:
            endings[owner] = json.loads(payload)
            break
        yield payload.decode()
        batch += 1
    for index, pipe in enumerate(pipes):
        if index not in endings:
            kind, payload = _receive(pipe)
            if kind != _END:
                raise RuntimeError(f"decode worker {index} sent a batch past the end")
            endings[index] = json.loads(payload)
    return [endings[index] for index in range(len(pipes))]
