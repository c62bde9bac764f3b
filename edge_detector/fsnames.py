"""File names that are not valid UTF-8 (Linux allows any bytes but ``/`` and NUL).

OpenCV segfaults when handed such a name (Python keeps the bad bytes as lone surrogates), so every
path given to OpenCV goes through :func:`cv2_path`, and every name shown to a user or written to a
UTF-8 file goes through :func:`display_name` (the bad bytes as ``\\xff`` escapes).
"""

from __future__ import annotations

import atexit
import itertools
import os
import shutil
import stat
import tempfile
from pathlib import Path

_ALIAS_DIR: str | None = None
_COUNTER = itertools.count()


def is_utf8(path: str | os.PathLike) -> bool:
    """True when ``path`` can be encoded as UTF-8 (no undecodable bytes in it)."""
    try:
        os.fspath(path).encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def display_name(path: str | os.PathLike) -> str:
    """A printable, UTF-8-safe form of a name: undecodable bytes become ``\\xNN``."""
    return os.fsencode(path).decode("utf-8", "backslashreplace")


def not_a_file(path: str | os.PathLike, what: str) -> str | None:
    """Why ``path`` cannot be read as a ``what`` file (missing, a folder, a device, empty), or None.

    So that "not found" is said only of what is really missing.
    """
    name = display_name(path)
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return f"{what} not found: {name}"
    except OSError as exc:
        return f"cannot read {what} {name}: {exc.strerror or exc}"
    if stat.S_ISDIR(st.st_mode):
        return f"{what} {name} is a folder, not a file"
    if not stat.S_ISREG(st.st_mode):
        return f"{what} {name} is not a regular file (a device, pipe or socket)"
    if st.st_size == 0:
        return f"{what} {name} is empty (0 bytes)"
    return None


def _alias_dir() -> str:
    global _ALIAS_DIR
    if _ALIAS_DIR is None or not os.path.isdir(_ALIAS_DIR):
        _ALIAS_DIR = tempfile.mkdtemp(prefix="edge-detect-names-")
        atexit.register(shutil.rmtree, _ALIAS_DIR, True)
    return _ALIAS_DIR


def cv2_path(path: str | os.PathLike) -> str:
    """A string OpenCV can take for ``path``: itself if UTF-8, else a symlink with a safe name.

    The symlink works for reading and for writing (``open(O_CREAT)`` follows it and creates the
    real file), and lives in a private temporary folder removed at exit.
    """
    text = os.fspath(path)
    if is_utf8(text):
        return text
    target = os.path.abspath(os.fsencode(text))
    suffix = display_name(Path(text).suffix)  # OpenCV picks the container from the suffix
    link = os.path.join(_alias_dir(), f"{os.getpid()}-{next(_COUNTER)}{suffix}")
    os.symlink(target, link)
    return link
