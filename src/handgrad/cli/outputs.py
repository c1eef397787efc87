"""The files a command writes: each checked before any work starts, each written atomically.

An output is refused, naming its option, when it cannot be written (an empty name, a missing or
unwritable folder, a folder or a device where a file should go) or when it is one of the
command's inputs, compared as files (device and inode, :func:`os.path.samefile`), so that a
symbolic or hard link to the data is caught as surely as the same name. Two outputs naming the
same file are refused too. An output that already exists is replaced whole or not at all (a
temporary file in the same folder, flushed to disk, then renamed over it), and the command says
that it replaced it.
"""

from __future__ import annotations

import os
import stat
import tempfile
from collections.abc import Callable, Mapping

#: An ``--out`` of this name writes to standard output, where a command allows it.
STDOUT = "-"


def check_output(path: str | None, argument: str, inputs: Mapping[str, str | None] = {}) -> bool:
    """Refuse ``path`` before any work is done if it cannot be written, or if it is the same file
    as one of ``inputs`` (``{option: path}``); return whether a file is already there."""
    if path is None:
        return False
    if not path.strip():
        raise ValueError(f"{argument}: expected a file name, got {path!r}")
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"{argument} {path!r}: the folder {folder!r} does not exist")
    if os.path.isdir(path):
        raise IsADirectoryError(f"{argument} {path!r} is a folder, expected a file name")
    exists = os.path.lexists(path)
    if exists and os.path.exists(path) and not stat.S_ISREG(os.stat(path).st_mode):
        raise ValueError(f"{argument} {path!r} is not a regular file; expected a file name")
    for option, other in inputs.items():
        if other is not None and _same_file(path, other):
            how = "" if os.path.abspath(path) == os.path.abspath(other) else " (through a link)"
            raise ValueError(
                f"{argument} {path!r} is the same file as {option} {other!r}{how}: writing it "
                "would overwrite an input; choose another name"
            )
    _check_writable(folder, path, argument)
    return exists


def _check_writable(folder: str, path: str, argument: str) -> None:
    """Create and remove a file in ``folder``: the one test that holds for read-only mounts,
    /proc and permissions alike (a user with every right still cannot write in /proc)."""
    try:
        fd, probe = tempfile.mkstemp(prefix=".handgrad-", suffix=".probe", dir=folder)
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise PermissionError(
            f"{argument} {path!r}: cannot write in the folder {folder!r} ({reason})"
        ) from None
    os.close(fd)
    os.unlink(probe)


def _same_file(a: str, b: str) -> bool:
    """Whether ``a`` and ``b`` are one file: the same device and inode once links are followed,
    or, for a name not yet created, the same path once links are resolved."""
    try:
        return os.path.samefile(a, b)
    except OSError:
        return os.path.realpath(a) == os.path.realpath(b)


def check_outputs_distinct(paths: Mapping[str, str | None]) -> None:
    """Refuse two options that name one file (links included)."""
    named = [(argument, path) for argument, path in paths.items() if path not in (None, STDOUT)]
    for i, (first, a) in enumerate(named):
        for second, b in named[i + 1 :]:
            if _same_file(a, b):
                raise ValueError(f"{first} and {second} name the same file {b!r}")


def write_atomically(path: str, write: Callable[[str], None]) -> None:
    """``write(temporary_path)``, then the temporary file flushed to disk and renamed over
    ``path``: ``path`` holds its old contents or the complete new ones, never a part."""
    folder = os.path.dirname(os.path.abspath(path))
    name, suffix = os.path.splitext(os.path.basename(path))
    fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=f".tmp{suffix}", dir=folder)
    os.close(fd)
    try:
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; the output is a normal file
        write(tmp)
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def write_text(path: str, text: str) -> None:
    """``text`` to ``path`` (UTF-8), atomically."""

    def write(tmp: str) -> None:
        with open(tmp, "w", encoding="utf-8", newline="") as f:
            f.write(text)

    write_atomically(path, write)


def replaced(path: str, existed: bool) -> str:
    """What the command says after writing ``path``: its name, and whether it replaced a file."""
    return f"{path} (it replaced the file that was there)" if existed else path


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
