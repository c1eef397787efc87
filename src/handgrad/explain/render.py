"""A traced step as a page: plain text for a terminal, Markdown, or one self-contained HTML page.

Each takes the step's entries, its facts (``(name, value)`` rows: model, loss, batch, update)
and its diagnosis, and returns a string; :class:`~handgrad.explain.trace.Trace`'s ``to_text``,
``to_markdown`` and ``to_html`` call them. The HTML page is self-contained: inline CSS, no
scripts, nothing loaded from elsewhere, and every piece of text escaped.

Options: ``precision`` (significant digits, 7), ``max_rows`` / ``max_cols`` (8: larger matrices
are elided) and ``edge`` (3 rows/columns kept at each end of an elided axis).
"""

from __future__ import annotations

import html
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
    elided_note,
    entries_text,
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
    "Every number is the one handgrad computed in this step; a symbol's values are shown where it "
    "first appears."
)


def text_page(entries: Sequence[Entry], facts: Facts, diagnosis: Diagnosis, **options) -> str:
    """The whole step as plain text for a terminal."""
    opts = RenderOptions.make(**options)
    lines = ["One training step, traced"]
    lines += [f"{key + ':':<8}{value}" for key, value in facts]
    lines += [_PREAMBLE]
    shown: set[str] = set()
    for phase, title in _TITLES.items():
        part = _phase(entries, phase)
        if not part:
            continue
        lines += ["", f"── {title} " + "─" * max(3, 60 - len(title)), ""]
        lines += entries_text(part, opts, shown)
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
    shown: set[str] = set()
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
            values = []
            for term in (*e.operands, e.result):
                if term.symbol not in shown:
                    shown.add(term.symbol)
                    values.append(term_text(term, opts, ""))
            if values:
                out += ["", "```text", *values, "```"]
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

_CSS = """
:root { --ink: #1d2330; --soft: #5b6475; --line: #d9dde5; --paper: #ffffff;
        --tint: #f4f6fa; --accent: #2f5fb3; --warn: #b3261e; --warn-bg: #fdecea; }
* { box-sizing: border-box; }
body { margin: 0; background: var(--tint); color: var(--ink);
       font: 15px/1.5 system-ui, -apple-system, "Segoe UI", sans-serif; }
main { max-width: 980px; margin: 0 auto; padding: 24px 20px 48px; }
h1 { font-size: 1.6em; margin: 0 0 12px; }
h2 { font-size: 1.25em; margin: 32px 0 12px; padding-bottom: 4px;
     border-bottom: 2px solid var(--accent); }
h3 { font-size: 1.05em; margin: 0 0 8px; }
h3 .path { color: var(--soft); font-weight: normal; margin-right: 6px; }
table.summary { border-collapse: collapse; margin-bottom: 8px; }
table.summary th { text-align: left; color: var(--soft); font-weight: normal;
                   padding: 2px 16px 2px 0; vertical-align: top; }
table.summary td { padding: 2px 0; }
.note { color: var(--soft); }
section.layer { background: var(--paper); border: 1px solid var(--line); border-radius: 8px;
                padding: 14px 18px; margin: 12px 0; }
div.entry { border-top: 1px dashed var(--line); padding-top: 10px; margin-top: 10px; }
div.entry:first-of-type { border-top: none; padding-top: 0; margin-top: 0; }
p.words { margin: 0 0 4px; font-weight: 600; }
p.formula { margin: 0 0 2px; }
p.formula code { font-size: 1.08em; color: var(--accent); }
p.formula code.unknown { color: var(--warn); }
p.shapes { margin: 0 0 6px; color: var(--soft); font-size: 0.9em; }
code, table.m, table.diag td { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas,
                               "DejaVu Sans Mono", monospace; }
div.terms { display: flex; flex-wrap: wrap; gap: 10px 22px; align-items: flex-start; }
figure.term { margin: 0; }
figure.term figcaption { font-size: 0.9em; margin-bottom: 2px; }
figure.term figcaption .sym { font-weight: 600; }
figure.term figcaption .meta { color: var(--soft); }
figure.term.result figcaption .sym { color: var(--accent); }
table.m { border-collapse: collapse; border-left: 2px solid var(--ink);
          border-right: 2px solid var(--ink); font-size: 0.9em; }
table.m td { padding: 1px 7px; text-align: right; font-variant-numeric: tabular-nums;
             white-space: nowrap; }
table.m td.gap { color: var(--soft); text-align: center; }
span.scalar { font-family: ui-monospace, Menlo, Consolas, monospace; font-size: 1.05em; }
table.diag { border-collapse: collapse; background: var(--paper); width: 100%; }
table.diag th, table.diag td { border: 1px solid var(--line); padding: 4px 8px; }
table.diag th { background: var(--tint); text-align: left; }
table.diag td.n { text-align: right; }
table.diag tr.flagged td { background: var(--warn-bg); }
table.diag td.flags { color: var(--warn); font-weight: 600; }
ul.flags li { color: var(--warn); }
details.worked { margin-top: 8px; background: var(--tint); border-radius: 6px; padding: 6px 10px; }
details.worked summary { cursor: pointer; color: var(--accent); }
ol.steps { margin: 6px 0; padding-left: 22px; }
ol.steps code { white-space: pre-wrap; }
"""


def _esc(text: object) -> str:
    return html.escape(str(text), quote=True)


def _matrix_html(value: np.ndarray, opts: RenderOptions) -> str:
    a = np.asarray(value)
    if a.ndim == 0:
        return f'<span class="scalar">{_esc(format_number(a[()], max(opts.precision, 10)))}</span>'
    grid, _ = matrix_cells(a, opts)
    rows = []
    for cells in grid:
        tds = "".join(
            f'<td class="gap">{_esc(c)}</td>'
            if c in (ROW_GAP, COL_GAP, BOTH_GAP)
            else f"<td>{_esc(c)}</td>"
            for c in cells
        )
        rows.append(f"<tr>{tds}</tr>")
    return f'<table class="m">{"".join(rows)}</table>'


def _term_html(term: Term, opts: RenderOptions, result: bool) -> str:
    meta = [] if term.value.ndim == 0 else [shape_text(term.shape)]
    if term.note:
        meta.append(term.note)
    elided = elided_note(term, opts)
    if elided:
        meta.append(elided.lstrip(", "))
    caption = f'<span class="sym">{_esc(term.symbol)}</span>'
    if meta:
        caption += f' <span class="meta">{_esc(" · ".join(meta))}</span>'
    cls = "term result" if result else "term"
    return (
        f'<figure class="{cls}"><figcaption>{caption}</figcaption>'
        f"{_matrix_html(term.value, opts)}</figure>"
    )


def _entry_html(e: Entry, opts: RenderOptions, shown: set[str]) -> str:
    code_class = ' class="unknown"' if e.formula is None else ""
    parts = [
        '<div class="entry">',
        f'<p class="words">{_esc(e.words)}</p>',
        f'<p class="formula"><code{code_class}>{_esc(e.formula_text)}</code></p>',
        f'<p class="shapes">{_esc(shapes_line(e))}</p>',
    ]
    terms = []
    for term in (*e.operands, e.result):
        if term.symbol not in shown:
            shown.add(term.symbol)
            terms.append(_term_html(term, opts, term is e.result))
    if terms:
        parts.append(f'<div class="terms">{"".join(terms)}</div>')
    if e.worked is not None:
        parts.append(_worked_html(e.worked, opts))
    parts.append("</div>")
    return "".join(parts)


def _worked_html(w: WorkedElement, opts: RenderOptions) -> str:
    """A worked element: its lines, what the layer computed, and its parts. The cells it used
    are named in ``data-cells`` (``symbol[index]`` separated by ``;``), for a page that points
    at them."""
    cells = "; ".join(f"{symbol}{index}" for symbol, index in w.cells)
    lines = "".join(f"<li><code>{_esc(line)}</code></li>" for line in w.lines)
    computed = format_number(w.computed, opts.precision)
    parts = "".join(_term_html(part, opts, False) for part in w.parts)
    return (
        f'<details class="worked" data-element="{_esc(w.element)}" data-cells="{_esc(cells)}">'
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
        for h in ("layer", "", "dead ReLUs", "‖θ‖", "‖∇θ‖", "update ratio", "flags")
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
    return (
        f'<p class="note">{_esc(d.summary())}.</p>'
        f'<table class="diag"><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody>'
        f"</table>{notes}"
    )


def html_page(
    entries: Sequence[Entry],
    facts: Facts,
    diagnosis: Diagnosis,
    *,
    title: str = "One training step, traced",
    **options,
) -> str:
    """The whole step as one self-contained HTML page."""
    opts = RenderOptions.make(**options)
    summary = "".join(
        f"<tr><th>{_esc(key)}</th><td>{_esc(value)}</td></tr>" for key, value in facts
    )
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        '<head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_esc(title)}</title>",
        f"<style>{_CSS}</style>",
        "</head>",
        "<body><main>",
        f"<h1>{_esc(title)}</h1>",
        f'<table class="summary">{summary}</table>',
        f'<p class="note">{_esc(_PREAMBLE)}</p>',
    ]
    shown: set[str] = set()
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
            parts += [_entry_html(e, opts, shown) for e in group]
            parts.append("</section>")
        parts.append("</section>")
    parts += [
        '<section class="phase"><h2>Diagnosis</h2>',
        _diagnosis_html(diagnosis),
        "</section>",
        "</main></body>",
        "</html>",
    ]
    return "\n".join(parts) + "\n"
