"""A traced step as a page: plain text for a terminal, Markdown, or one self-contained HTML page.

Each takes the step's entries, its facts (``(name, value)`` rows: model, loss, batch, update)
and its diagnosis, and returns a string; :class:`~handgrad.explain.trace.Trace`'s ``to_text``,
``to_markdown`` and ``to_html`` call them. The HTML page is self-contained: inline CSS, no
one script that shows the worked formula of a clicked element, nothing loaded from elsewhere,
and every piece of text escaped. Its style is scoped under the class ``hg-trace``, so that the
same ``<div>`` shown in a notebook (``Trace._repr_html_``) never restyles the notebook.

Options: ``precision`` (significant digits, 7), ``max_entries`` (16: an axis of up to 16 entries
is never elided; ``max_rows`` / ``max_cols`` set the two axes apart) and ``edge`` (3 rows/columns
kept at each end of an elided axis).
"""

from __future__ import annotations

import html
import json
from collections.abc import Sequence

import numpy as np

from .diagnostics import Diagnosis
from .entries import (
    BOTH_GAP,
    COL_GAP,
    PHASES,
    ROW_GAP,
    Entry,
    RenderOptions,
    Term,
    WorkedElement,
    _visible,
    elided_note,
    entries_text,
    entry_terms,
    format_number,
    matrix_cells,
    shape_text,
    shapes_line,
    term_text,
    worked_text,
)

_TITLES = dict(
    zip(PHASES, ("Forward", "Loss", "Backward, last layer to first", "Update"), strict=True)
)
Facts = Sequence[tuple[str, str]]


def _phase(entries: Sequence[Entry], name: str) -> list[Entry]:
    return [e for e in entries if e.phase == name]


_PREAMBLE = (
    "Every number is the one handgrad computed in this step; each formula is shown with the "
    "values it uses."
)
_PREAMBLE_HTML = (
    "Every number is the one handgrad computed in this step; each card shows the values its "
    "formula uses. Click (or focus) an element of a result to see how it was computed and which "
    "cells it came from."
)


def text_page(entries: Sequence[Entry], facts: Facts, diagnosis: Diagnosis, **options) -> str:
    """The whole step as plain text for a terminal."""
    opts = RenderOptions.make(**options)
    lines = ["One training step, traced"]
    lines += [
        f"{key + ':':<8}{value}" if len(key) < 7 else f"{key}: {value}" for key, value in facts
    ]
    lines += [_PREAMBLE]
    for phase, title in _TITLES.items():
        part = _phase(entries, phase)
        if not part:
            continue
        lines += ["", f"── {title} " + "─" * max(3, 60 - len(title)), ""]
        lines += entries_text(part, opts)
    lines += ["", "── Diagnosis " + "─" * 51, "", str(diagnosis)]
    return "\n".join(lines) + "\n"


# Markdown ------------------------------------------------------------------------------------

_MD_SPECIAL = set("\\`*_[]<>#|{}")


def _md(text: str) -> str:
    """Free text with Markdown's special characters escaped."""
    return "".join("\\" + c if c in _MD_SPECIAL else c for c in text)


def _md_code(text: str) -> str:
    """An inline code span that holds ``text`` whatever backticks it contains."""
    longest = current = 0
    for c in text:
        current = current + 1 if c == "`" else 0
        longest = max(longest, current)
    fence = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def markdown_page(entries: Sequence[Entry], facts: Facts, diagnosis: Diagnosis, **options) -> str:
    """The whole step as Markdown: a heading per phase and per layer, formulas as code, values
    in ``text`` blocks."""
    opts = RenderOptions.make(**options)
    out = ["# One training step, traced", "", "| | |", "|---|---|"]
    out += [f"| {key} | {_md(value)} |" for key, value in facts]
    out += ["", _md(_PREAMBLE)]
    for phase, title in _TITLES.items():
        part = _phase(entries, phase)
        if not part:
            continue
        out += ["", f"## {title}"]
        group = None
        for e in part:
            if (e.path, e.layer) != group:
                group = (e.path, e.layer)
                name = e.layer if e.path is None else f"[{e.path}] {e.layer}"
                out += ["", f"### {_md(name)}"]
            out += ["", f"**{_md(e.words)}**", ""]
            out += [f"{_md_code(e.formula_text)} — {_md(shapes_line(e))}"]
            out += ["", "```text", *(term_text(t, opts, "") for t in entry_terms(e)), "```"]
            if e.worked is not None:
                out += ["", f"*One element worked out, {_md(e.worked.element)}:*", ""]
                out += ["```text", *worked_text(e.worked, opts, "")[1:], "```"]
    out += ["", "## Diagnosis", "", _diagnosis_markdown(diagnosis)]
    return "\n".join(out) + "\n"


def _diagnosis_markdown(d: Diagnosis) -> str:
    rows = [
        _md(d.summary()) + ".",
        "",
        "| layer | | dead ReLUs | ‖θ‖ | ‖∇θ‖ | update ratio | flags |",
        "|---|---|---:|---:|---:|---:|---|",
    ]
    for r in d.rows():
        rows.append("| " + " | ".join(_md(c) for c in r) + " |")
    rows.append("")
    rows += [f"- {_md(m)}" for m in d.messages()] or ["No layer flagged."]
    return "\n".join(rows)


# HTML ----------------------------------------------------------------------------------------

#: The page's rules, every selector inside ``.hg-trace`` (see :func:`_scoped`), so that the same
#: fragment shown in a notebook never restyles the notebook's own elements.
_RULES = """
& { --ink: #1d2330; --soft: #5b6475; --line: #d9dde5; --paper: #ffffff;
    --tint: #f4f6fa; --accent: #2f5fb3; --warn: #b3261e; --warn-bg: #fdecea; --pick: #ffe08a;
    --used: #cfe3ff; color: var(--ink); background: var(--tint);
    font: 15px/1.5 system-ui, -apple-system, "Segoe UI", sans-serif; }
& * { box-sizing: border-box; }
& main { max-width: 1100px; margin: 0 auto; padding: 24px 20px 48px; }
& h1 { font-size: 1.6em; margin: 0 0 12px; }
& h2 { font-size: 1.25em; margin: 32px 0 12px; padding-bottom: 4px;
       border-bottom: 2px solid var(--accent); }
& h3 { font-size: 1.05em; margin: 0 0 8px; overflow-wrap: anywhere; }
& h3 .path { color: var(--soft); font-weight: normal; margin-right: 6px; }
& table.summary { border-collapse: collapse; margin-bottom: 8px; max-width: 100%; }
& table.summary th { text-align: left; color: var(--soft); font-weight: normal;
                     padding: 2px 16px 2px 0; vertical-align: top; }
& table.summary td { padding: 2px 0; overflow-wrap: anywhere; }
& .note { color: var(--soft); overflow-wrap: anywhere; }
& section.layer { background: var(--paper); border: 1px solid var(--line); border-radius: 8px;
                  padding: 14px 18px; margin: 12px 0; max-width: 100%; overflow-x: auto; }
& div.entry { border-top: 1px dashed var(--line); padding-top: 10px; margin-top: 10px; }
& div.entry:first-of-type { border-top: none; padding-top: 0; margin-top: 0; }
& p.words { margin: 0 0 4px; font-weight: 600; }
& p.formula { margin: 0 0 2px; overflow-wrap: anywhere; }
& p.formula code { font-size: 1.08em; color: var(--accent); }
& p.formula code.unknown { color: var(--warn); }
& p.shapes { margin: 0 0 6px; color: var(--soft); font-size: 0.9em; overflow-wrap: anywhere; }
& code, & table.m, & table.diag td { font-family: ui-monospace, "SFMono-Regular", Menlo,
                                     Consolas, "DejaVu Sans Mono", monospace; }
& div.terms { display: flex; flex-wrap: wrap; gap: 10px 22px; align-items: flex-start;
              max-width: 100%; }
& figure.term { margin: 0; max-width: 100%; overflow-x: auto; }
& figure.term figcaption { font-size: 0.9em; margin-bottom: 2px; }
& figure.term figcaption .sym { font-weight: 600; }
& figure.term figcaption .meta { color: var(--soft); }
& figure.term.result figcaption .sym { color: var(--accent); }
& table.m { border-collapse: collapse; border-left: 2px solid var(--ink);
            border-right: 2px solid var(--ink); font-size: 0.9em; }
& table.m td { padding: 1px 7px; text-align: right; font-variant-numeric: tabular-nums;
               white-space: nowrap; }
& table.m td.gap { color: var(--soft); text-align: center; }
& table.m td[tabindex] { cursor: pointer; }
& table.m td[tabindex]:hover { outline: 1px solid var(--accent); }
& table.m td.picked { background: var(--pick); outline: 2px solid var(--accent); }
& table.m td.used { background: var(--used); }
& span.scalar { font-family: ui-monospace, Menlo, Consolas, monospace; font-size: 1.05em; }
& svg.image { display: block; border: 1px solid var(--line); image-rendering: pixelated; }
& svg.image rect.used { stroke: var(--accent); stroke-width: 2px; }
& div.explain { margin-top: 8px; background: #fffbea; border: 1px solid var(--pick);
                border-radius: 6px; padding: 6px 10px; }
& div.explain[hidden] { display: none; }
& div.explain ol { margin: 4px 0; padding-left: 22px; }
& div.explain code, & ol.steps code { white-space: pre-wrap; overflow-wrap: anywhere; }
& table.diag { border-collapse: collapse; background: var(--paper); width: 100%; }
& table.diag th, & table.diag td { border: 1px solid var(--line); padding: 4px 8px;
                                   overflow-wrap: anywhere; }
& table.diag th { background: var(--tint); text-align: left; }
& table.diag td.n { text-align: right; }
& table.diag tr.flagged td { background: var(--warn-bg); }
& table.diag td.flags { color: var(--warn); font-weight: 600; }
& div.diagwrap { max-width: 100%; overflow-x: auto; }
& ul.flags li { color: var(--warn); }
& details.worked { margin-top: 8px; background: var(--tint); border-radius: 6px;
                   padding: 6px 10px; }
& details.worked summary { cursor: pointer; color: var(--accent); }
& ol.steps { margin: 6px 0; padding-left: 22px; }
& div.steps-nav { background: var(--paper); border: 1px solid var(--line); border-radius: 8px;
                  padding: 10px 14px; margin: 8px 0 12px; max-width: 100%; overflow-x: auto; }
& div.steps-nav input { width: 100%; max-width: 420px; }
& div.step[hidden] { display: none; }
& svg.curve { display: block; max-width: 100%; height: auto; color: var(--accent); }
& svg.curve text { font-size: 11px; fill: var(--soft); }
& svg.curve circle { fill: var(--accent); }
& svg.curve circle.current { fill: var(--warn); }
"""

#: The class every rule of the page is scoped under.
SCOPE = "hg-trace"


def _scoped(rules: str, scope: str = SCOPE) -> str:
    """``rules`` with each ``&`` replaced by the scope's class selector."""
    return rules.replace("&", f".{scope}")


_CSS = _scoped(_RULES)

# The page's behaviour: clicking (or focusing, then Enter) an element of a matrix shows the
# worked formula of that element, read from the page's JSON, and highlights the operand cells it
# came from, in the matrices and as pixels of an image drawn on the card (a cell (r, c) of an
# image's 2-D view is pixel (i, j) of sample r, c = (i·W + j)·C + channel); the slider of a
# trace of several steps shows one step at a time. No network, no library.
_SCRIPT = """
(function () {
  var root = document.currentScript.closest(".hg-trace");
  var data = JSON.parse(root.querySelector("script.hg-explain").textContent);
  function clear(entry) {
    entry.querySelectorAll("td.picked, td.used, rect.used").forEach(function (cell) {
      cell.classList.remove("picked", "used");
    });
  }
  function pixels(entry, symbol, cells) {
    var sel = 'figure.picture[data-sym="' + CSS.escape(symbol) + '"]';
    entry.querySelectorAll(sel).forEach(function (fig) {
      var sample = Number(fig.dataset.sample);
      var width = Number(fig.dataset.width), channels = Number(fig.dataset.channels);
      cells.forEach(function (rc) {
        if (rc[0] !== sample) { return; }
        var p = Math.floor(rc[1] / channels);
        var at = Math.floor(p / width) + "," + (p % width);
        var rect = fig.querySelector('rect[data-p="' + at + '"]');
        if (rect) { rect.classList.add("used"); }
      });
    });
  }
  function show(td) {
    var entry = td.closest("div.entry");
    var table = data[entry.dataset.entry];
    var w = table && table[td.dataset.k];
    if (!w) { return; }
    clear(entry);
    td.classList.add("picked");
    w.grid.forEach(function (pair) {
      pixels(entry, pair[0], pair[1]);
      var fig = entry.querySelector('figure.matrix[data-sym="' + CSS.escape(pair[0]) + '"]');
      if (!fig) { return; }
      pair[1].forEach(function (rc) {
        var cell = fig.querySelector('td[data-k="' + rc[0] + "," + rc[1] + '"]');
        if (cell) { cell.classList.add("used"); }
      });
    });
    var box = entry.querySelector("div.explain");
    box.hidden = false;
    box.querySelector(".what").textContent = w.element;
    var list = box.querySelector("ol");
    list.textContent = "";
    w.lines.forEach(function (line) {
      var li = document.createElement("li");
      var code = document.createElement("code");
      code.textContent = line;
      li.appendChild(code);
      list.appendChild(li);
    });
    box.querySelector(".computed").textContent = w.computed;
    box.querySelector(".cells").textContent = w.cells;
  }
  root.querySelectorAll("td[data-k][tabindex]").forEach(function (td) {
    td.addEventListener("click", function () { show(td); });
    td.addEventListener("focus", function () { show(td); });
  });
  var slider = root.querySelector("input.step-slider");
  if (slider) {
    var pick = function () {
      root.querySelectorAll("div.step").forEach(function (div) {
        div.hidden = div.dataset.step !== slider.value;
      });
      root.querySelectorAll("svg.curve circle").forEach(function (dot) {
        dot.classList.toggle("current", dot.dataset.step === slider.value);
      });
      root.querySelector(".step-label").textContent = slider.value;
    };
    slider.addEventListener("input", pick);
    pick();
  }
})();
"""


def _esc(text: object) -> str:
    return html.escape(str(text), quote=True)


def _view(a: np.ndarray) -> np.ndarray:
    """The 2-D view a page shows of an array: the first axis down, the others across."""
    return a.reshape(1, -1) if a.ndim <= 1 else a.reshape(a.shape[0], -1)


def _full_index(shape: tuple[int, ...], r: int, c: int) -> tuple[int, ...]:
    """The index into an array of ``shape`` of the cell ``(r, c)`` of its 2-D view."""
    if len(shape) == 1:
        return (c,)
    return (r, *(int(i) for i in np.unravel_index(c, shape[1:])))


def _visible_cells(a: np.ndarray, opts: RenderOptions) -> tuple[list, list]:
    view = _view(a)
    return (
        _visible(view.shape[0], opts.max_rows, opts.edge),
        _visible(view.shape[1], opts.max_cols, opts.edge),
    )


def _matrix_html(value: np.ndarray, opts: RenderOptions, clickable: bool = False) -> str:
    a = np.asarray(value)
    if a.ndim == 0:
        return f'<span class="scalar">{_esc(format_number(a[()], max(opts.precision, 10)))}</span>'
    grid, _ = matrix_cells(a, opts)
    rows_shown, cols_shown = _visible_cells(a, opts)
    focus = ' tabindex="0"' if clickable else ""
    rows = []
    for r, cells in zip(rows_shown, grid):
        tds = []
        for c, cell in zip(cols_shown, cells):
            if cell in (ROW_GAP, COL_GAP, BOTH_GAP):
                tds.append(f'<td class="gap">{_esc(cell)}</td>')
            else:
                tds.append(f'<td data-k="{r},{c}"{focus}>{_esc(cell)}</td>')
        rows.append(f"<tr>{''.join(tds)}</tr>")
    return f'<table class="m">{"".join(rows)}</table>'


def _image_svg(symbol: str, value: np.ndarray, samples: int = 4) -> str:
    """An input of images (batch, height, width, 1 or 3 channels) drawn as images, one per
    sample (the first few), each pixel a square scaled to the image's own range. Each picture
    names its symbol, sample, width and channels, and each pixel its ``data-p="i,j"``, so that
    the page's script can light the pixels a clicked element used."""
    a = np.asarray(value, dtype=np.float64)
    pictures = []
    for k in range(min(len(a), samples)):
        img = a[k]
        low, high = float(img.min()), float(img.max())
        scaled = (img - low) / (high - low) if high > low else np.zeros_like(img)
        h, w, channels = img.shape
        size = max(4, min(16, 160 // max(h, w)))
        rects = []
        for i in range(h):
            for j in range(w):
                if channels == 3:
                    r, g, b = (round(255 * float(v)) for v in scaled[i, j])
                else:
                    r = g = b = round(255 * (1 - float(scaled[i, j, 0])))  # dark is high
                rects.append(
                    f'<rect data-p="{i},{j}" x="{j * size}" y="{i * size}" width="{size}" '
                    f'height="{size}" fill="rgb({r},{g},{b})"/>'
                )
        pictures.append(
            f'<figure class="term picture" data-sym="{_esc(symbol)}" data-sample="{k}" '
            f'data-width="{w}" data-channels="{channels}">'
            f"<figcaption>{_esc(symbol)}, sample {k} as an image</figcaption>"
            f'<svg class="image" width="{w * size}" '
            f'height="{h * size}" viewBox="0 0 {w * size} {h * size}" role="img" '
            f'aria-label="sample {k}, {h}×{w}">{"".join(rects)}</svg></figure>'
        )
    return "".join(pictures)


def _is_image(a: np.ndarray) -> bool:
    return a.ndim == 4 and a.shape[-1] in (1, 3) and a.shape[1] > 1 and a.shape[2] > 1


def _term_html(term: Term, opts: RenderOptions, result: bool, clickable: bool = False) -> str:
    meta = [] if term.value.ndim == 0 else [shape_text(term.shape)]
    if term.note:
        meta.append(term.note)
    elided = elided_note(term, opts)
    if elided:
        meta.append(elided.lstrip(", "))
    caption = f'<span class="sym">{_esc(term.symbol)}</span>'
    if meta:
        caption += f' <span class="meta">{_esc(" · ".join(meta))}</span>'
    cls = "term matrix result" if result else "term matrix"
    return (
        f'<figure class="{cls}" data-sym="{_esc(term.symbol)}"><figcaption>{caption}'
        f"</figcaption>{_matrix_html(term.value, opts, clickable)}</figure>"
    )


#: The most cells of one operand a clicked element highlights (a convolution's window is 144).
_MAX_HIGHLIGHTED = 2048


def _explained(e: Entry, opts: RenderOptions) -> dict[str, dict]:
    """The worked formula of every element of ``e``'s result that the page shows, by the
    ``data-k`` of its cell."""
    a = e.result.value
    if e.explain is None or a.ndim == 0 or a.size == 0:
        return {}
    rows, cols = _visible_cells(a, opts)
    out = {}
    for r in rows:
        for c in cols:
            if r is None or c is None:
                continue
            w = e.explain(_full_index(a.shape, r, c))
            out[f"{r},{c}"] = {
                "element": w.element,
                "lines": list(w.lines),
                "computed": f"The layer computed {w.element} = "
                f"{format_number(w.computed, opts.precision)}",
                "cells": "cells used: " + ", ".join(f"{s}{i}" for s, i in w.cells)
                if w.cells
                else "",
                "grid": [
                    [symbol, [list(rc) for rc in where[:_MAX_HIGHLIGHTED]]]
                    for symbol, where in w.grid
                ],
            }
    return out


def _entry_html(
    e: Entry, opts: RenderOptions, number: str, explained: dict, images: frozenset[str]
) -> str:
    """One card: the formula, every operand it uses and its result (clickable where the layer
    can work an element out; an input of images, whose symbol is in ``images``, also drawn),
    and the element the trace works out."""
    code_class = ' class="unknown"' if e.formula is None else ""
    table = _explained(e, opts)
    if table:
        explained[number] = table
    parts = [
        f'<div class="entry" data-entry="{number}">',
        f'<p class="words">{_esc(e.words)}</p>',
        f'<p class="formula"><code{code_class}>{_esc(e.formula_text)}</code></p>',
        f'<p class="shapes">{_esc(shapes_line(e))}</p>',
    ]
    terms = []
    for term in entry_terms(e):
        is_result = term is e.result
        terms.append(_term_html(term, opts, is_result, clickable=is_result and bool(table)))
        if term.symbol in images:
            terms.append(_image_svg(term.symbol, term.value))
    parts.append(f'<div class="terms">{"".join(terms)}</div>')
    if table:
        parts.append(
            '<div class="explain" hidden><p><strong>Worked out: <code class="what"></code>'
            '</strong></p><ol></ol><p class="note computed"></p><p class="note cells"></p></div>'
            '<p class="note">Click or focus any element of '
            f"{_esc(e.result.symbol)} to see how it was computed.</p>"
        )
    if e.worked is not None:
        parts.append(_worked_html(e.worked, opts))
    parts.append("</div>")
    return "".join(parts)


def _worked_html(w: WorkedElement, opts: RenderOptions) -> str:
    """A worked element: its lines, what the layer computed, and its parts. The cells it used
    are named in ``data-cells`` (``symbol[index]`` separated by ``;``)."""
    cells = "; ".join(f"{symbol}{index}" for symbol, index in w.cells)
    lines = "".join(f"<li><code>{_esc(line)}</code></li>" for line in w.lines)
    computed = format_number(w.computed, opts.precision)
    parts = "".join(_term_html(part, opts, False) for part in w.parts)
    return (
        f'<details class="worked" open data-element="{_esc(w.element)}" '
        f'data-cells="{_esc(cells)}">'
        f"<summary>One element worked out, <code>{_esc(w.element)}</code></summary>"
        f'<ol class="steps">{lines}</ol>'
        f'<p class="note">The layer computed {_esc(w.element)} = {_esc(computed)}'
        + (f"; cells used: {_esc(', '.join(f'{a}{b}' for a, b in w.cells))}" if w.cells else "")
        + "</p>"
        + (f'<div class="terms">{parts}</div>' if parts else "")
        + "</details>"
    )


def _diagnosis_html(d: Diagnosis) -> str:
    head = "".join(
        f"<th>{_esc(h)}</th>"
        for h in ("layer", "", d.relu_heading, "‖θ‖", "‖∇θ‖", "update ratio", "flags")
    )
    body = []
    for h, cells in zip(d.layers, d.rows()):
        tds = (
            f"<td>{_esc(cells[0])}</td><td>{_esc(cells[1])}</td>"
            + "".join(f'<td class="n">{_esc(c)}</td>' for c in cells[2:6])
            + f'<td class="flags">{_esc(cells[6])}</td>'
        )
        body.append(f'<tr class="flagged">{tds}</tr>' if h.flags else f"<tr>{tds}</tr>")
    messages = d.messages()
    notes = (
        '<ul class="flags">' + "".join(f"<li>{_esc(m)}</li>" for m in messages) + "</ul>"
        if messages
        else '<p class="note">No layer flagged.</p>'
    )
    notes += "".join(f'<p class="note">{_esc(n)}</p>' for n in d.notes())
    return (
        f'<p class="note">{_esc(d.summary())}.</p>'
        f'<div class="diagwrap"><table class="diag"><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table></div>{notes}"
    )


#: One step of a trace of several: its entries, facts, diagnosis and loss.
Step = tuple[Sequence[Entry], Facts, Diagnosis, float]


def _step_html(
    entries: Sequence[Entry], facts: Facts, diagnosis: Diagnosis, opts, key: str, explained
) -> list[str]:
    """The summary, the phases and the diagnosis of one step; its worked elements go into
    ``explained`` under ``key.number``."""
    summary = "".join(
        f"<tr><th>{_esc(name)}</th><td>{_esc(value)}</td></tr>" for name, value in facts
    )
    parts = [f'<table class="summary">{summary}</table>']
    # the input, when it is images, is drawn on its own card and on every card that uses it
    images = frozenset(
        e.result.symbol
        for e in entries
        if e.phase == "forward" and e.path is None and _is_image(e.result.value)
    )
    number = 0
    for phase, heading in _TITLES.items():
        part = _phase(entries, phase)
        if not part:
            continue
        parts.append(f'<section class="phase"><h2>{_esc(heading)}</h2>')
        groups: list[list[Entry]] = []
        for e in part:
            if groups and (groups[-1][0].path, groups[-1][0].layer) == (e.path, e.layer):
                groups[-1].append(e)
            else:
                groups.append([e])
        for group in groups:
            first = group[0]
            path = "" if first.path is None else f'<span class="path">[{_esc(first.path)}]</span>'
            parts.append(f'<section class="layer"><h3>{path}{_esc(first.layer)}</h3>')
            for e in group:
                parts.append(_entry_html(e, opts, f"{key}.{number}", explained, images))
                number += 1
            parts.append("</section>")
        parts.append("</section>")
    parts += [
        '<section class="phase"><h2>Diagnosis</h2>',
        _diagnosis_html(diagnosis),
        "</section>",
    ]
    return parts


def _loss_curve_svg(losses: Sequence[float]) -> str:
    """The loss of each step as a small line chart (inline SVG), step 1 at the left."""
    width, height, pad = 420, 140, 28
    low, high = min(losses), max(losses)
    span = high - low or 1.0
    n = len(losses)

    def point(k: int, v: float) -> tuple[float, float]:
        x = pad + (width - 2 * pad) * (k / (n - 1) if n > 1 else 0.5)
        y = height - pad - (height - 2 * pad) * (v - low) / span
        return round(x, 1), round(y, 1)

    points = [point(k, v) for k, v in enumerate(losses)]
    line = " ".join(f"{x},{y}" for x, y in points)
    dots = "".join(
        f'<circle cx="{x}" cy="{y}" r="3" data-step="{k + 1}"><title>step {k + 1}: '
        f"L = {_esc(format_number(losses[k], 7))}</title></circle>"
        for k, (x, y) in enumerate(points)
    )
    labels = (
        f'<text x="{pad}" y="{height - 6}">step 1</text>'
        f'<text x="{width - pad}" y="{height - 6}" text-anchor="end">step {n}</text>'
        f'<text x="4" y="{pad - 8}">L = {_esc(format_number(high, 4))}</text>'
        f'<text x="4" y="{height - pad + 14}">L = {_esc(format_number(low, 4))}</text>'
    )
    return (
        f'<svg class="curve" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
        f'role="img" aria-label="the loss of each step"><polyline points="{line}" fill="none" '
        f'stroke="currentColor" stroke-width="1.5"/>{dots}{labels}</svg>'
    )


def html_body(
    entries: Sequence[Entry],
    facts: Facts,
    diagnosis: Diagnosis,
    *,
    title: str = "One training step, traced",
    steps: Sequence[Step] = (),
    **options,
) -> str:
    """The step as one ``<div class="hg-trace">``: its style scoped to that class, its worked
    elements as JSON and the script that shows them. A notebook shows it as it is (a
    fragment); :func:`html_page` puts it in a page.

    With ``steps`` (every step of a trace of several, the first included), the page shows the
    loss of each step as a curve and a slider that shows one step at a time."""
    opts = RenderOptions.make(**options)
    explained: dict[str, dict] = {}
    parts = [
        f'<div class="{SCOPE}">',
        f"<style>{_CSS}</style>",
        "<main>",
        f"<h1>{_esc(title)}</h1>",
        f'<p class="note">{_esc(_PREAMBLE_HTML)}</p>',
    ]
    if len(steps) > 1:
        losses = [loss for *_, loss in steps]
        parts += [
            '<div class="steps-nav">',
            f"<p><strong>{len(steps)} consecutive steps</strong>; the loss of each:</p>",
            _loss_curve_svg(losses),
            f'<label>step <span class="step-label">1</span> of {len(steps)} '
            f'<input type="range" class="step-slider" min="1" max="{len(steps)}" value="1" '
            'step="1" aria-label="the step shown"></label>',
            "</div>",
        ]
        for k, (step_entries, step_facts, step_diagnosis, _) in enumerate(steps, start=1):
            hidden = "" if k == 1 else " hidden"
            parts.append(f'<div class="step" data-step="{k}"{hidden}>')
            parts.append(f"<h2>Step {k}</h2>")
            parts += _step_html(step_entries, step_facts, step_diagnosis, opts, str(k), explained)
            parts.append("</div>")
    else:
        parts += _step_html(entries, facts, diagnosis, opts, "1", explained)
    # "</" cannot end the JSON's script element early once written as "<\/".
    blob = json.dumps(explained, ensure_ascii=False, separators=(",", ":")).replace("</", "<\\/")
    parts += [
        "</main>",
        f'<script type="application/json" class="hg-explain">{blob}</script>',
        f"<script>{_SCRIPT}</script>",
        "</div>",
    ]
    return "\n".join(parts)


def html_page(
    entries: Sequence[Entry],
    facts: Facts,
    diagnosis: Diagnosis,
    *,
    title: str = "One training step, traced",
    steps: Sequence[Step] = (),
    **options,
) -> str:
    """The whole step as one self-contained HTML page (inline style and script, nothing
    fetched): :func:`html_body` in a document."""
    body = html_body(entries, facts, diagnosis, title=title, steps=steps, **options)
    return (
        "\n".join(
            [
                "<!DOCTYPE html>",
                '<html lang="en">',
                '<head><meta charset="utf-8">',
                '<meta name="viewport" content="width=device-width, initial-scale=1">',
                f"<title>{_esc(title)}</title>",
                "<style>html, body { margin: 0; background: #f4f6fa; }</style>",
                "</head>",
                "<body>",
                body,
                "</body>",
                "</html>",
            ]
        )
        + "\n"
    )
