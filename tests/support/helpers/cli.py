"""Helpers of the command-line tests."""

import csv
import subprocess
import sys
from pathlib import Path

from reliability import record

from handgrad.cli import main

QUICK = ["--epochs", "3", "--layers", "16", "--verbose", "0"]


def write_csv(path: Path, header: list[str], rows: list[list]) -> Path:
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def read_csv(path_or_text) -> list[dict]:
    text = Path(path_or_text).read_text() if isinstance(path_or_text, Path) else path_or_text
    return list(csv.DictReader(text.splitlines()))


def run(argv: list[str], **kwargs) -> subprocess.CompletedProcess:
    """``handgrad argv`` in a new process, its output through pipes."""
    cmd = [sys.executable, "-m", "handgrad.cli", *argv]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300, **kwargs)


def one_line_error(capsys, argv: list[str], code: int = 2) -> str:
    assert main(argv) == code
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    assert "Traceback" not in err
    record("bad inputs refused (command line)", 1)
    return err
