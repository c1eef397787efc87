"""Renderings of a trace: aligned text, Markdown, and one self-contained, well-formed HTML page."""

import re
from html.parser import HTMLParser

import numpy as np
import pytest

import handgrad as hg
from handgrad.explain.entries import RenderOptions, entry_terms, shapes_line, term_text
from handgrad.explain.render import _md as _md_escape
from handgrad.explain.trace import seed_trace

VOID = {"meta", "br", "hr", "img", "input", "link", "col", "area", "base", "wbr", "source"}


class TagChecker(HTMLParser):
    """Records every tag, and fails on a closing tag that does not close the innermost open one."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack, self.tags, self.text, self.errors = [], [], [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        if tag not in VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag):
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes {self.stack[-1:] or 'nothing'}")
        else:
            self.stack.pop()

    def handle_data(self, data):
        self.text.append(data)


def parse(page):
    checker = TagChecker()
    checker.feed(page)
    checker.close()
    return checker


class Weird(hg.Identity):
    """A layer whose name needs escaping in HTML and in Markdown."""

    def forward(self, x):  # rewritten, so the trace knows no formula for it
        return super().forward(x)

    def __repr__(self):
        return "<script>alert('*x*')</script>"


def test_seed_trace_text_shows_the_notebooks_figures_aligned():
    text = seed_trace(lr=0.01).to_text()
    assert "Z1 (1, 3) = [[3.99  3.29  2.59]]" in text
    assert "Z2 (1, 2) = [[5.4552  6.4972]]" in text
    assert "Z3 (1, 1) = [[7.188368]]" in text
    assert "error (1, 1) = [[-6.188368]]" in text
    assert "L = 19.14794925" in text
    assert "dL/dp [= dL/dA3] (1, 1) = [[6.188368]]" in text
    assert (
        "    W1 [0.weight] (3, 3) =\n      [[0.3   0.2   0.4 ]\n       [0.34  0.23  0.43]\n" in text
    )
    assert "dL/dW3 [4.weight.grad] (2, 1) =\n      [[33.75879]\n       [40.20706]]" in text
    assert "Loss w.r.t. pre-activation neuron output (Z)" in text
    assert "layer 4 Dense(2→1): exploding gradient, update ratio 3.99e-01 > 0.1" in text
    for title in ("Forward", "Loss", "Backward, last layer to first", "Update", "Diagnosis"):
        assert f"── {title} ─" in text


def _entry_block(e, opts, indent):
    """The lines an entry's formula is followed by: its shapes, then each operand and its
    result, with their values."""
    terms = "\n".join(term_text(t, opts, indent) for t in entry_terms(e))
    return terms


def test_every_entry_shows_the_values_its_formula_uses_in_text_and_markdown():
    step = seed_trace(lr=0.01)
    text, md = step.to_text(), step.to_markdown()
    opts = RenderOptions.make()
    for e in step.entries:
        block = f"    {e.formula_text}\n    {shapes_line(e)}\n" + _entry_block(e, opts, "    ")
        assert block in text, e.formula_text
        fenced = f" — {_md_escape(shapes_line(e))}\n\n```text\n" + _entry_block(e, opts, "")
        assert fenced + "\n```" in md, e.formula_text
    # the dL/dW3 entry, a page further down than A2 and dL/dZ3 first appear, shows both
    card = text.split("    dL/dW3 = A2ᵀ · dL/dZ3\n")[1].split("one element worked out")[0]
    assert "    A2 (1, 2) = [[5.4552  6.4972]]\n    dL/dZ3 (1, 1) = [[6.188368]]\n" in card
    assert len(re.findall(r"^ +A2 \(1, 2\) = ", text, re.M)) == 3  # Z3's, dL/dW3's and A2's own
    assert "shapes: A2 (1, 2), dL/dZ3 (1, 1) → dL/dW3 (2, 1)" in text


def test_repeated_operands_keep_the_elision_and_precision_options():
    rng = np.random.default_rng(1)
    model = hg.Sequential([hg.Dense(17, 16, rng=rng)])
    step = hg.trace(model, rng.standard_normal((3, 17)), np.zeros((3, 16)), hg.MSELoss())
    A0 = step.phase("forward")[0].result.value
    for render in (step.to_text, step.to_markdown):
        # A0 (3, 17) is used by Z1 and by dL/dW1: elided past 16 columns in both
        page = render()
        elided = r"^ *A0 \(3, 17\), showing the first and last 3 of each long axis =$"
        assert len(re.findall(elided, page, re.M)) == 3  # the input's own, Z1's and dL/dW1's
        assert page.count("dL/dZ1 (3, 16) =") == 3  # 16 columns: never elided
        whole = render(max_entries=17)
        assert "showing the first" not in whole
        assert whole.count(format(A0[0, 8], ".7g")) >= 3  # the middle column, in each entry
        short = render(precision=3, max_entries=6)
        assert short.count("dL/dZ1 (3, 16), showing the first and last 3 of each long axis") == 3
        a0 = step.phase("forward")[0].result
        a0_short = term_text(a0, RenderOptions.make(precision=3, max_entries=6), "")
        assert format(A0[0, 0], ".3g") in a0_short and format(A0[0, 0], ".7g") not in a0_short
        rows = a0_short.split("\n")[1:]  # the matrix, without the symbol's line
        assert all(short.count(row.strip()) >= 3 for row in rows)


def test_text_without_lr_says_there_is_no_update():
    text = seed_trace(lr=None).to_text()
    assert "update: none (no lr given)" in text and "── Update" not in text


def test_an_unknown_formula_is_said_in_every_rendering(rng):
    model = hg.Sequential([hg.Dense(2, 2, rng=rng), Weird()])
    step = hg.trace(model, rng.standard_normal((2, 2)), np.zeros((2, 2)), hg.MSELoss())
    assert "formula: not available for Weird" in step.to_text()
    assert "formula: not available for Weird" in step.to_markdown()
    assert "formula: not available for Weird" in step.to_html()


def test_html_is_well_formed_and_self_contained():
    page = seed_trace(lr=0.01).to_html()
    checker = parse(page)
    assert checker.errors == [] and checker.stack == []
    assert page.startswith("<!DOCTYPE html>")
    lowered = page.lower()
    for outside in ("http", "src=", "<link", "@import", "url(", "fetch(", "xmlhttprequest"):
        assert outside not in lowered
    names = [tag for tag, _ in checker.tags]
    assert names.count("style") == 2  # the page's margin, and the trace's own
    scripts = [attrs for tag, attrs in checker.tags if tag == "script"]
    assert scripts == [{"type": "application/json", "class": "hg-explain"}, {}]
    text = "".join(checker.text)
    assert "Z1 = A0 · W1 + b1" in text and "19.14794925" in text
    assert "Loss w.r.t. weight" in text and "exploding" in text


def test_html_cells_hold_the_numbers_and_the_gaps():
    rng = np.random.default_rng(1)
    model = hg.Sequential([hg.Dense(17, 10, rng=rng)])
    page = hg.trace(model, rng.standard_normal((3, 17)), np.zeros((3, 10)), hg.MSELoss()).to_html()
    assert parse(page).errors == []
    after = page.split('<span class="sym">A0</span>')[1]
    first_row = re.search(r'<table class="m"><tr>(.*?)</tr>', after).group(1)
    cells = re.findall(r"<td[^>]*>(.*?)</td>", first_row)
    assert len(cells) == 7 and cells[3] == "⋯"  # 17 inputs: elided past 16
    weights = page.split('<span class="sym">W1</span>')[1]
    first_row = re.search(r'<table class="m"><tr>(.*?)</tr>', weights).group(1)
    cells = re.findall(r"<td[^>]*>(.*?)</td>", first_row)
    assert len(cells) == 10  # 10 outputs: never elided
    assert cells[0] == format(model[0].weight.data[0, 0], ".7g")


def test_html_and_markdown_escape_what_they_show(rng):
    model = hg.Sequential([hg.Dense(2, 2, rng=rng), Weird()])
    step = hg.trace(model, rng.standard_normal((2, 2)), np.zeros((2, 2)), hg.MSELoss())
    page = step.to_html(title="a < b & c")
    assert page.count("<script") == 2  # the page's own two; the layer's name is text
    assert "&lt;script&gt;alert(&#x27;*x*&#x27;)&lt;/script&gt;" in page
    assert "<title>a &lt; b &amp; c</title>" in page
    checker = parse(page)
    assert checker.errors == [] and checker.stack == []
    md = step.to_markdown()
    assert "\\<script\\>alert('\\*x\\*')\\</script\\>" in md


def test_markdown_structure():
    md = seed_trace(lr=0.01).to_markdown()
    assert md.startswith("# One training step, traced\n")
    for heading in ("## Forward", "## Loss", "## Backward, last layer to first", "## Update"):
        assert f"\n{heading}\n" in md
    assert "\n### \\[4\\] Dense(2→1)\n" in md
    assert "`dL/dW3 = A2ᵀ · dL/dZ3` — shapes: A2 (1, 2), dL/dZ3 (1, 1) → dL/dW3 (2, 1)" in md
    assert md.count("```") % 2 == 0
    assert "| 4 | Dense(2→1) |  | 1.32e+00 | 5.29e+01 | 3.99e-01 | exploding |" in md


def test_every_rendering_shows_the_worked_element(rng):
    model = hg.Sequential([hg.Dense(3, 2, rng=rng)])
    model[0].bias.data[...] = [0.5, -0.25]
    x = np.array([[1.0, 2.0, 3.0]])
    step = hg.trace(model, x, np.zeros((1, 2)), hg.MSELoss())
    w = step.phase("forward")[1].worked
    W = model[0].weight.data
    assert w.element == "Z1[0, 0]"
    assert w.lines[0] == "Z1[0, 0] = Σ_k A0[0, k] · W1[k, 0] + b1[0]"
    assert w.value == pytest.approx(x[0] @ W[:, 0] + 0.5, rel=1e-15)
    text, md, page = step.to_text(), step.to_markdown(), step.to_html()
    assert "one element worked out, Z1[0, 0]:" in text
    assert "*One element worked out, Z1\\[0, 0\\]:*" in md
    for rendering in (text, md):
        assert "cells used: A0[0, :], W1[:, 0], b1[0]" in rendering
    assert 'data-cells="A0[0, :]; W1[:, 0]; b1[0]"' in page
    assert "<summary>One element worked out, <code>Z1[0, 0]</code></summary>" in page


# The page's click-to-explain, its scoped style, images, options ---------------------------------


def explained(page):
    """The page's JSON: entry number → cell ("r,c") → its worked formula."""
    import json

    blob = re.search(
        r'<script type="application/json" class="hg-explain">(.*?)</script>', page, re.S
    )
    return json.loads(blob.group(1).replace("<\\/", "</"))


def css_selectors(css):
    """Every selector of a style sheet without at-rules."""
    out = []
    for block in re.findall(r"([^{}]+)\{[^{}]*\}", css):
        out += [sel.strip() for sel in block.split(",") if sel.strip()]
    return out


def test_every_rule_of_the_trace_style_is_scoped_under_its_own_class():
    step = seed_trace(lr=0.01)
    fragment = step._repr_html_()
    assert fragment.startswith('<div class="hg-trace">') and fragment.endswith("</div>")
    css = re.search(r"<style>(.*?)</style>", fragment, re.S).group(1)
    selectors = css_selectors(css)
    assert len(selectors) > 30
    assert all(sel.startswith(".hg-trace") for sel in selectors), [
        sel for sel in selectors if not sel.startswith(".hg-trace")
    ]


def test_each_card_shows_the_operands_it_uses():
    page = seed_trace(lr=0.01).to_html()
    card = next(
        c for c in page.split('<div class="entry"') if "<code>dL/dW3 = A2ᵀ · dL/dZ3</code>" in c
    )
    for symbol in ("A2", "dL/dZ3", "dL/dW3"):
        assert f'data-sym="{symbol}"' in card
    assert ">5.4552<" in card and ">6.188368<" in card and ">33.75879<" in card


def test_clicking_data_holds_every_shown_elements_worked_formula():
    step = seed_trace(lr=0.01)
    page = step.to_html()
    table = explained(page)
    entries = list(step.entries)
    (k, _) = next((k, e) for k, e in enumerate(entries) if e.result.symbol == "dL/dW3")
    cell = table[f"1.{k}"]["1,0"]
    assert cell["element"] == "dL/dW3[1, 0]"
    assert cell["lines"] == [
        "dL/dW3[1, 0] = Σ_i A2[i, 1] · dL/dZ3[i, 0] = 6.4972·6.188368 = 40.20706"
    ]
    assert cell["grid"] == [["A2", [[0, 1]]], ["dL/dZ3", [[0, 0]]]]
    assert cell["computed"] == "The layer computed dL/dW3[1, 0] = 40.20706"
    (k1, _) = next((k, e) for k, e in enumerate(entries) if e.result.symbol == "Z1")
    assert set(table[f"1.{k1}"]) == {"0,0", "0,1", "0,2"}
    assert table[f"1.{k1}"]["0,2"]["lines"][1] == "= 1·0.4 + 2·0.43 + 3·0.11 + 1"
    # the clickable cells are the result's
    assert page.count('tabindex="0"') == sum(len(t) for t in table.values())


def test_an_image_input_is_drawn_and_precision_and_max_entries_are_options(rng):
    model = hg.Sequential([hg.Flatten(), hg.Dense(36, 3, rng=rng)])
    x = rng.random((2, 6, 6, 1))
    x[0, 2, 3, 0] = 1.0
    x[0, 0, 0, 0] = 0.0
    step = hg.trace(model, x, [0, 1], hg.CrossEntropyLoss())
    page = step.to_html()
    svgs = re.findall(r'<svg class="image".*?</svg>', page, re.S)
    # two samples, drawn on the input's card and on the two cards that use it (Flatten's
    # forward and backward), each picture naming what the page's script needs to light pixels
    assert len(svgs) == 6 and all(svg.count("<rect") == 36 for svg in svgs)
    pictures = re.findall(r'<figure class="term picture" ([^>]*)>', page)
    assert pictures == [f'data-sym="A0" data-sample="{k}" data-width="6" data-channels="1"'
                        for k in (0, 1)] * 3  # fmt: skip
    assert svgs[0].count('<rect data-p="2,3" x="48" y="32"') == 1
    # the darkest pixel is the largest value, the lightest the smallest
    assert 'x="0" y="0" width="16" height="16" fill="rgb(255,255,255)"' in svgs[0]
    assert 'x="48" y="32" width="16" height="16" fill="rgb(0,0,0)"' in svgs[0]
    short = step.to_text(precision=3, max_entries=6)
    long = step.to_text(precision=3)
    value = step["Z1"][0, 0]
    assert f"{value:.3g}" in short
    assert "⋯" in short and ", showing the first and last 3 of each long axis" in short
    # 36 features exceed 16, 3 logits never do
    assert "Z1 (2, 3) =" in long and "Z1 (2, 3), showing" not in long
    with pytest.raises(ValueError, match="max_entries"):
        step.to_text(max_entries=0)


def test_several_steps_show_a_loss_curve_and_one_step_at_a_time():
    from handgrad.explain import notebook

    model, x, target = notebook.backprop_network()
    step = hg.trace(model, x, target, hg.MSELoss(), lr=0.01, steps=3)
    page = step.to_html()
    assert parse(page).errors == []
    assert 'type="range" class="step-slider" min="1" max="3" value="1"' in page
    divs = re.findall(r'<div class="step" data-step="(\d)"( hidden)?>', page)
    assert divs == [("1", ""), ("2", " hidden"), ("3", " hidden")]
    curve = re.search(r'<svg class="curve".*?</svg>', page, re.S).group(0)
    assert curve.count("<circle") == 3
    assert f"step 2: L = {step.losses[1]:.7g}" in curve
    # the first point is the highest loss, at the top of the chart
    ys = [float(y) for y in re.findall(r'<circle cx="[\d.]+" cy="([\d.]+)"', curve)]
    assert ys[0] < ys[1] < ys[2]
    table = explained(page)
    assert {k.split(".")[0] for k in table} == {"1", "2", "3"}
