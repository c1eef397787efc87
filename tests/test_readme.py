"""The README's examples run, and print what the README says they print."""

import contextlib
import io
import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


def examples():
    """Each ```python block followed directly by a ```text block: (code, expected output)."""
    text = README.read_text(encoding="utf-8")
    # A code block never contains a fence: a block without output is not paired with a later one.
    pattern = re.compile(r"```python\n((?:(?!```).)*)```\s*\n```text\n((?:(?!```).)*)```", re.S)
    return [(m.group(1), m.group(2)) for m in pattern.finditer(text)]


def test_the_readme_has_examples():
    assert len(examples()) >= 2


@pytest.mark.parametrize("index", range(len(examples())))
def test_readme_example_prints_what_the_readme_shows(index, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # examples that save files write them here
    code, expected = examples()[index]
    namespace: dict = {}
    if index > 0:  # later blocks build on the tour's imports
        exec(examples()[0][0].split("\n\n")[0], namespace)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, f"README example {index}", "exec"), namespace)
    assert_same_output(out.getvalue(), expected)


def assert_same_output(actual: str, expected: str) -> None:
    """Token by token; finite-difference errors below 1e-6 are rounding noise that varies with the
    BLAS kernel, so for those only the order of magnitude (below 1e-6) must hold."""
    got, want = actual.split(), expected.split()
    assert len(got) == len(want), actual
    for g, w in zip(got, want):
        try:
            g_value, w_value = float(g), float(w)
        except ValueError:
            assert g == w, actual
            continue
        if "e-" in w and abs(w_value) < 1e-6:
            assert abs(g_value) < 1e-6, actual
        else:
            assert g == w, actual
