"""Atomic file writes for the whole project: write a ``.part`` file beside the target, then rename.

A reader (a browser on report.html, a resumed ETL on its manifest, a user on summary.json) sees the
old file or the new one, never half of one. The rename stays in one folder, so it is never a copy.
Each write gets its own uniquely named ``.part`` file, so concurrent writers of one target (Dask
workers sharing a folder, two scans) never write into each other's part; the last rename wins.
Errors are plain ``OSError``; callers turn them into their own error type.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any


def part_path(path: str | os.PathLike, keep_suffix: bool = False) -> Path:
    """``a/b.json`` -> ``a/b.json.part``; ``keep_suffix`` gives ``a/b.part.mp4`` for writers that
    pick the format from the extension (cv2.VideoWriter). One fixed name: for a single writer only
    (see :func:`unique_part_path`)."""
    path = Path(path)
    if keep_suffix:
        return path.with_name(f"{path.stem}.part{path.suffix}")
    return path.with_name(path.name + ".part")


def unique_part_path(path: str | os.PathLike, keep_suffix: bool = False) -> Path:
    """Creates an empty ``a/b.<random>.json.part`` (``a/b.<random>.part.mp4`` with ``keep_suffix``)
    that no other writer can have: ``O_EXCL`` creation, mode 0o666 minus the umask like ``open()``
    (``tempfile.mkstemp`` would make it 0o600)."""
    path = Path(path)
    for _ in range(100):
        tag = secrets.token_hex(4)
        if keep_suffix:
            part = path.with_name(f"{path.stem}.{tag}.part{path.suffix}")
        else:
            part = path.with_name(f"{path.stem}.{tag}{path.suffix}.part")
        try:
            os.close(os.open(part, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
        except FileExistsError:
            continue
        return part
    raise FileExistsError(f"no free part name beside {path}")


def commit(part: str | os.PathLike, final: str | os.PathLike) -> Path:
    """Rename a finished ``.part`` file onto its final name (atomic on one filesystem)."""
    os.replace(part, final)
    return Path(final)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, keep_suffix: bool = False) -> Iterator[Path]:
    """Yields a fresh, unique, empty ``.part`` file to write; renamed onto ``path`` on success,
    removed on error."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    part = unique_part_path(path, keep_suffix)
    try:
        yield part
        commit(part, path)
    except BaseException:
        part.unlink(missing_ok=True)
        raise


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike, mode: str = "w", **kwargs: Any) -> Iterator[IO[Any]]:
    """``open()`` on the ``.part`` file; flushed to disk and renamed when the block ends cleanly."""
    if "b" not in mode:
        kwargs.setdefault("encoding", "utf-8")
    with atomic_path(path) as part, open(part, mode, **kwargs) as fh:
        yield fh
        fh.flush()
        os.fsync(fh.fileno())


def write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    with atomic_open(path, "wb") as fh:
        fh.write(data)
    return Path(path)


def write_text(path: str | os.PathLike, text: str, encoding: str = "utf-8",
               errors: str = "strict") -> Path:
    """``errors="backslashreplace"`` for text that may hold undecodable file names."""
    with atomic_open(path, "w", encoding=encoding, errors=errors) as fh:
        fh.write(text)
    return Path(path)


def write_json(path: str | os.PathLike, data: Any, **dumps: Any) -> Path:
    """``json.dumps(data, indent=2, **dumps)`` plus a final newline."""
    return write_text(path, json.dumps(data, **{"indent": 2, **dumps}) + "\n")
