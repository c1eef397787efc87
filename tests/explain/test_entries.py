"""A trace's entries and numbers as text: alignment, precision, elision, render options."""

import numpy as np
import pytest

import handgrad as hg
from handgrad.explain.entries import matrix_text, render_entries_text
from handgrad.explain.trace import seed_trace


def test_numbers_align_on_the_decimal_point():
    assert matrix_text(np.array([[1.5, -20.25], [100.0, 3.0]])) == (
        "[[  1.5  -20.25]\n [100      3   ]]"
    )
    assert matrix_text(np.array([1, 2, 3])) == "[1  2  3]"
    assert matrix_text(np.array(0.1 + 0.2)) == "0.3"  # 10 significant digits for a scalar


def test_scalars_negative_zero_and_precision():
    assert matrix_text(np.array(19.147949245712)) == "19.14794925"
    assert matrix_text(np.array([-0.0, 1 / 3])) == "[0  0.3333333]"
    assert matrix_text(np.array([1 / 3]), precision=3) == "[0.333]"


def test_large_matrices_are_elided_with_their_shape():
    a = np.arange(20 * 30, dtype=float).reshape(20, 30)
    lines = matrix_text(a).split("\n")
    assert len(lines) == 7  # 3 rows, the gap, 3 rows
    assert lines[0][2:].split()[:4] == ["0", "1", "2", "⋯"] and lines[0].endswith("29]")
    assert lines[3].replace("[", "").split()[:4] == ["⋮", "⋮", "⋮", "⋱"]
    assert lines[-1].startswith(" [570") and lines[-1].endswith("599]]")
    assert "300" not in matrix_text(a)  # a middle value is hidden
    # in a trace, the term says it is elided and keeps its shape
    rng = np.random.default_rng(0)
    model = hg.Sequential([hg.Dense(30, 20, rng=rng)])
    text = hg.trace(model, rng.standard_normal((12, 30)), np.zeros((12, 20)), hg.MSELoss())
    text = text.to_text(max_rows=6, max_cols=6, edge=2)
    assert "W1 [0.weight] (30, 20), showing the first and last 2 of each long axis =" in text
    assert "Z1 (12, 20), showing the first and last 2 of each long axis =" in text


def test_render_options_are_checked():
    step = seed_trace()
    with pytest.raises(ValueError, match=r"max_rows must be at least 2·edge = 6 .* got 4"):
        step.to_text(max_rows=4)
    with pytest.raises(ValueError, match="precision must be >= 1, got 0"):
        step.to_markdown(precision=0)
    with pytest.raises(TypeError, match=r"edge must be an integer, got 2.5 \(float\)"):
        step.to_html(edge=2.5)


def test_one_entry_renders_with_all_its_values():
    step = seed_trace()
    (dW3,) = [e for e in step.entries if e.result.symbol == "dL/dW3"]
    text = str(dW3)
    assert text.splitlines()[:3] == [
        "[4] Dense(2→1)",
        "  Loss w.r.t. weight: each input times the gradient of each neuron it feeds",
        "    dL/dW3 = A2ᵀ · dL/dZ3",
    ]
    assert "A2 (1, 2) = [[5.4552  6.4972]]" in text and "dL/dZ3 (1, 1) = [[6.188368]]" in text
    assert render_entries_text([dW3]) == text
