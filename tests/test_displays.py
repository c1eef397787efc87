"""What handgrad's objects show in a notebook: a short ``repr``, an HTML fragment whose style is
scoped under a class of its own (it never restyles the notebook), Markdown, and figures that
display inline."""

import re

import numpy as np
import pytest

import handgrad as hg
from handgrad.explain import seed_trace


def selectors(fragment: str) -> list[str]:
    css = re.search(r"<style>(.*?)</style>", fragment, re.S).group(1)
    out = []
    for block in re.findall(r"([^{}]+)\{[^{}]*\}", css):
        out += [s.strip() for s in block.split(",") if s.strip()]
    return out


def assert_scoped(fragment: str, scope: str) -> None:
    assert re.match(rf'<div class="{scope}">\s*<style>', fragment) and fragment.endswith("</div>")
    found = selectors(fragment)
    assert found and all(s.startswith(f".{scope}") for s in found), found
    assert fragment.count("<style>") == 1


@pytest.fixture(scope="module")
def trained():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((40, 3))
    y = (X[:, 0] > 0).astype(int)
    model = hg.Sequential([hg.Dense(3, 4, rng=1), hg.ReLU(), hg.Dense(4, 2, rng=2)])
    history = model.fit(
        X, y, loss=hg.CrossEntropyLoss(), optimizer=hg.SGD(model.parameters(), lr=0.5),
        epochs=3, batch_size=10, validation_split=0.25, seed=0,
    )  # fmt: skip
    return model, history, X, y


def test_a_trace_shows_a_few_lines_not_its_dataclass():
    step = seed_trace(lr=0.01)
    text = repr(step)
    assert "Entry(" not in text and len(text.splitlines()) == 6
    assert text.startswith(f"Trace of one training step, {len(step.entries)} formulas")
    assert "loss: MSELoss(), L = 19.14794925" in text
    assert_scoped(step._repr_html_(), "hg-trace")
    assert "19.14794925" in step._repr_html_()
    assert step._repr_markdown_() == step.to_markdown()


def test_a_gradcheck_report_displays_its_table_and_verdict(rng):
    report = hg.gradcheck(hg.Dense(3, 2, rng=rng), rng.standard_normal((4, 3)))
    assert repr(report) == str(report) and repr(report).endswith("PASSED")
    html = report._repr_html_()
    assert_scoped(html, "hg-gradcheck")
    cells = re.findall(r"<td[^>]*>(.*?)</td>", html)
    assert cells[:3] == ["weight", "(3, 2)", "6"] and '<p class="hg-good">PASSED</p>' in html
    md = report._repr_markdown_()
    assert "| tensor | shape | checked | max abs err | max rel err | ok |" in md
    assert f"| weight | (3, 2) | 6 | {report['weight'].max_abs_error:.2e} |" in md


def test_a_diagnosis_displays_its_flags_and_why(trained):
    model, _, X, y = trained
    d = hg.diagnose(model, X, y, hg.CrossEntropyLoss(), lr=50.0)
    assert repr(d) == str(d)
    html = d._repr_html_()
    assert_scoped(html, "hg-diagnosis")
    assert '<tr class="hg-bad">' in html and "exploding gradient" in html
    assert "An update ratio is that of this one step" in html
    assert "| layer |  | dead ReLUs | ‖θ‖ | ‖∇θ‖ | update ratio | flags |" in d._repr_markdown_()


def test_one_sample_speaks_of_inactive_units_not_dead_ones(rng):
    dense = hg.Dense(3, 4, rng=rng)
    dense.bias.data[...] = [-100, -100, -100, 1]
    model = hg.Sequential([dense, hg.ReLU(), hg.Dense(4, 1, rng=rng)])
    one = hg.trace(model, np.ones((1, 3)), np.zeros((1, 1)), hg.MSELoss()).diagnosis
    assert one["1"].flags == ("inactive",)
    assert "3 of 4 units inactive for this sample" in str(one) and "units dead" not in str(one)
    assert "inactive ReLUs" in str(one)
    many = hg.diagnose(model, rng.standard_normal((20, 3)), np.zeros((20, 1)), hg.MSELoss())
    assert many["1"].flags == ("dead",) and "3 of 4 units dead" in str(many)


def test_history_displays_every_epoch_and_plots_inline(trained):
    _, history, _, _ = trained
    assert repr(history).startswith("History(epochs=3, last={'loss': ")
    html = history._repr_html_()
    assert_scoped(html, "hg-history")
    rows = re.findall(r"<tr>(.*?)</tr>", html.split("<tbody>")[1])
    assert len(rows) == 3
    first = re.findall(r"<td[^>]*>(.*?)</td>", rows[0])
    assert first[:2] == ["1", f"{history.loss[0]:.4f}"]
    assert history._repr_markdown_().splitlines()[2].startswith("| epoch | loss | accuracy |")
    pytest.importorskip("matplotlib")
    fig = history.plot()
    loss_line = fig.axes[0].lines[0]
    np.testing.assert_array_equal(loss_line.get_xdata(), [1, 2, 3])
    np.testing.assert_array_equal(loss_line.get_ydata(), history.loss)
    assert fig.axes[1].get_title() == "accuracy"
    assert fig._repr_png_().startswith(b"\x89PNG\r\n\x1a\n")


def test_a_model_and_its_summary_display_as_tables(trained):
    model, _, _, _ = trained
    html = model._repr_html_()
    assert_scoped(html, "hg-sequential")
    assert "Sequential, 3 layers, 26 parameters" in html
    assert re.findall(r"<td[^>]*>(.*?)</td>", html)[:3] == ["0", "Dense(3→4)", "16"]
    summary = model.summary()
    assert repr(summary) == str(summary)
    html = summary._repr_html_()
    assert_scoped(html, "hg-summary")
    assert "(batch, 2)" in html and "total parameters: 26" in html
    assert "| 2 | Dense(4→2) | (batch, 2) | 10 |" in summary._repr_markdown_()
    assert "| 2 | Dense(4→2) | 10 |" in model._repr_markdown_()


def test_displays_escape_what_they_show():
    class Odd(hg.Identity):
        def __repr__(self):
            return "<b>odd</b>|*"

    model = hg.Sequential([Odd()])
    html = model._repr_html_()
    assert "<b>odd" not in html and "&lt;b&gt;odd&lt;/b&gt;|*" in html
    assert "\\<b\\>odd\\</b\\>\\|\\*" in model._repr_markdown_()
