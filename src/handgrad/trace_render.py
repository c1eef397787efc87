"""Renderings of a :class:`~handgrad.trace.Trace`: plain text, Markdown, and one HTML page.

Each returns a string; the caller prints it or writes it to a file.

* Numbers are shown to ``precision`` significant digits (7 by default, 10 for scalars such as
  the loss), columns aligned on the decimal point.
* A matrix with more than ``max_rows`` rows or ``max_cols`` columns is elided: its first and last
  ``edge`` rows (columns) are shown around ``⋮`` (``⋯``), and its shape is always written.
* A symbol's values are printed where it first appears; later entries name it with its shape.

The HTML page is self-contained: inline CSS, no scripts, nothing loaded from elsewhere, and every
piece of text escaped.
"""

from __future__ import annotations

import html
import textwrap
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from ._validation import check_int

if TYPE_CHECKING:
    from .diagnostics import Diagnosis
    from .trace import Entry, Term, Trace

_TITLES = {
    "forward": "Forward",
    "loss": "Loss",
    "backward": "Backward, last layer to first",
    "update": "Update",
}
ROW_GAP, COL_GAP, BOTH_GAP = "⋮", "⋯", "⋱"


@dataclass(frozen=True)
class _Options:
    precision: int = 7
    max_rows: int = 8
    max_cols: int = 8
    edge: int = 3

    @staticmethod
    def make(precision=7, max_rows=8, max_cols=8, edge=3) -> _Options:
        edge = check_int(edge, "edge", minimum=1)
        limits = {"max_rows": max_rows, "max_cols": max_cols}
        for name, value in limits.items():
            if check_int(value, name) < 2 * edge:
                raise ValueError(
                    f"{name} must be at least 2·edge = {2 * edge} (an elided axis keeps {edge} "
                    f"at each end), got {value}"
                )
        return _Options(check_int(precision, "precision", minimum=1), max_rows, max_cols, edge)


# Numbers -------------------------------------------------------------------------------------


def _format(v, precision: int) -> str:
    if isinstance(v, (bool, np.bool_, int, np.integer)):
        return str(v)
    if isinstance(v, (float, np.floating)):
        return format(float(v) + 0.0, f".{precision}g")  # + 0.0 turns −0 into 0
    return str(v)


def _visible(n: int, limit: int, edge: int) -> list[int | None]:
    """The indices shown of ``n``, ``None`` where the hidden ones are."""
    if n <= limit:
        return list(range(n))
    return [*range(edge), None, *range(n - edge, n)]


def _grid(value: np.ndarray, opts: _Options) -> tuple[list[list[str]], bool]:
    """The formatted cells of a 1-D or 2-D view of ``value`` (gaps marked), and whether any
    were elided. Arrays of more dimensions are shown as (first axis, the rest flattened)."""
    a = np.asarray(value)
    a = a.reshape(1, -1) if a.ndim <= 1 else a.reshape(a.shape[0], -1)
    rows = _visible(a.shape[0], opts.max_rows, opts.edge)
    cols = _visible(a.shape[1], opts.max_cols, opts.edge)
    grid = []
    for i in rows:
        if i is None:
            grid.append([BOTH_GAP if j is None else ROW_GAP for j in cols])
        else:
            grid.append([COL_GAP if j is None else _format(a[i, j], opts.precision) for j in cols])
    return grid, None in rows or None in cols


def _align(column: list[str]) -> list[str]:
    """Pad a column of numbers so that their decimal points line up."""

    def split(s: str) -> tuple[str, str]:
        if s in (ROW_GAP, COL_GAP, BOTH_GAP):
            return s, ""
        cut = s.find(".")
        if cut < 0:
            cut = s.find("e") if "e" in s else len(s)
        return s[:cut], s[cut:]

    parts = [split(s) for s in column]
    left = max(len(p[0]) for p in parts)
    right = max(len(p[1]) for p in parts)
    return [p[0].rjust(left) + p[1].ljust(right) for p in parts]


def matrix_text(value: np.ndarray, **options) -> str:
    """An array as aligned text: ``[[1  2]\\n [3  4]]`` (a scalar is just its number);
    the options are those of :func:`render_text`."""
    return _matrix_text(value, _Options.make(**options))


def _matrix_text(value: np.ndarray, opts: _Options) -> str:
    a = np.asarray(value)
    if a.ndim == 0:
        return _format(a[()], max(opts.precision, 10))
    grid, _ = _grid(a, opts)
    columns = [_align(list(col)) for col in zip(*grid)]
    lines = ["  ".join(cells) for cells in zip(*columns)] if columns else [""] * len(grid)
    if a.ndim == 1:
        return f"[{lines[0]}]"
    body = [("[[" if k == 0 else " [") + line + "]" for k, line in enumerate(lines)]
    body[-1] += "]"
    return "\n".join(body)


def _shape(shape: tuple[int, ...]) -> str:
    return str(tuple(shape))


def _elided_note(term: Term, opts: _Options) -> str:
    a = term.value
    if a.ndim == 0:
        return ""
    _, elided = _grid(a, opts)
    return f", showing the first and last {opts.edge} of each long axis" if elided else ""


# Plain text ----------------------------------------------------------------------------------


def _term_text(term: Term, opts: _Options, indent: str) -> str:
    note = f" [{term.note}]" if term.note else ""
    if term.value.ndim == 0:
        return f"{indent}{term.symbol}{note} = {_matrix_text(term.value, opts)}"
    head = f"{indent}{term.symbol}{note} {_shape(term.shape)}{_elided_note(term, opts)} ="
    body = _matrix_text(term.value, opts)
    if "\n" not in body and len(head) + len(body) < 100:
        return f"{head} {body}"
    return head + "\n" + "\n".join(indent + "  " + line for line in body.split("\n"))


def _shapes_line(entry: Entry) -> str:
    ins = ", ".join(f"{t.symbol} {_shape(t.shape)}" for t in entry.operands)
    out = f"{entry.result.symbol} {_shape(entry.result.shape)}"
    return f"shapes: {ins} → {out}" if ins else f"shape: {out}"


def _entries_text(entries: Iterable[Entry], opts: _Options, shown: set[str]) -> list[str]:
    lines: list[str] = []
    group = None
    for e in entries:
        if (e.phase, e.path, e.layer) != group:
            group = (e.phase, e.path, e.layer)
            if lines:
                lines.append("")
            lines.append(e.layer if e.path is None else f"[{e.path}] {e.layer}")
        lines += textwrap.wrap(e.words, 96, initial_indent="  ", subsequent_indent="  ")
        lines.append(f"    {e.formula_text}")
        lines.append(f"    {_shapes_line(e)}")
        for term in (*e.operands, e.result):
            if term.symbol in shown:
                continue
            shown.add(term.symbol)
            lines.append(_term_text(term, opts, "    "))
    return lines


def render_entries_text(entries: Sequence[Entry], **options) -> str:
    """Some entries of a trace as plain text, every value shown."""
    return "\n".join(_entries_text(entries, _Options.make(**options), set()))


def _summary(trace: Trace) -> list[tuple[str, str]]:
    samples = f"{trace.n_samples} sample" + ("s" if trace.n_samples != 1 else "")
    mode = "training mode" if trace.training else "evaluation mode"
    if trace.lr is None:
        update = "none (no lr given)"
    elif not trace.phase("update"):
        update = "none (the network has no parameters)"
    else:
        update = f"θ ← θ − {trace.lr:g} · dL/dθ (hg.SGD)"
    return [
        ("model", " → ".join(f"[{p}] {r}" for p, r in trace.layers) or "no layers"),
        ("loss", f"{trace.loss}, L = {trace.loss_value:.10g}"),
        ("batch", f"{samples}, {trace.dtype}, {mode}"),
        ("update", update),
    ]


_PREAMBLE = (
    "Every number is the one handgrad computed in this step; a symbol's values are shown where it "
    "first appears."
)


def render_text(trace: Trace, **options) -> str:
    """The whole trace as plain text for a terminal.

    Options: ``precision`` (significant digits, 7), ``max_rows`` / ``max_cols`` (8: larger
    matrices are elided) and ``edge`` (3 rows/columns kept at each end of an elided axis).
    """
    opts = _Options.make(**options)
    lines = ["One training step, traced"]
    lines += [f"{key + ':':<8}{value}" for key, value in _summary(trace)]
    lines += [_PREAMBLE]
    shown: set[str] = set()
    for phase, title in _TITLES.items():
        entries = trace.phase(phase)
        if not entries:
            continue
        lines += ["", f"── {title} " + "─" * max(3, 60 - len(title)), ""]
        lines += _entries_text(entries, opts, shown)
    lines += ["", "── Diagnosis " + "─" * 51, "", str(trace.diagnosis)]
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


def render_markdown(trace: Trace, **options) -> str:
    """The whole trace as Markdown: a heading per phase and per layer, formulas as code, values
    in ``text`` blocks (same options as :func:`render_text`)."""
    opts = _Options.make(**options)
    out = ["# One training step, traced", "", "| | |", "|---|---|"]
    out += [f"| {key} | {_md(value)} |" for key, value in _summary(trace)]
    out += ["", _md(_PREAMBLE)]
    shown: set[str] = set()
    for phase, title in _TITLES.items():
        entries = trace.phase(phase)
        if not entries:
            continue
        out += ["", f"## {title}"]
        group = None
        for e in entries:
            if (e.path, e.layer) != group:
                group = (e.path, e.layer)
                name = e.layer if e.path is None else f"[{e.path}] {e.layer}"
                out += ["", f"### {_md(name)}"]
            out += ["", f"**{_md(e.words)}**", ""]
            out += [f"{_md_code(e.formula_text)} — {_md(_shapes_line(e))}"]
            values = []
            for term in (*e.operands, e.result):
                if term.symbol not in shown:
                    shown.add(term.symbol)
                    values.append(_term_text(term, opts, ""))
            if values:
                out += ["", "```text", *values, "```"]
    out += ["", "## Diagnosis", "", _diagnosis_markdown(trace.diagnosis)]
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
"""


def _esc(text: object) -> str:
    return html.escape(str(text), quote=True)


def _matrix_html(value: np.ndarray, opts: _Options) -> str:
    a = np.asarray(value)
    if a.ndim == 0:
        return f'<span class="scalar">{_esc(_format(a[()], max(opts.precision, 10)))}</span>'
    grid, _ = _grid(a, opts)
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


def _term_html(term: Term, opts: _Options, result: bool) -> str:
    meta = [] if term.value.ndim == 0 else [_shape(term.shape)]
    if term.note:
        meta.append(term.note)
    elided = _elided_note(term, opts)
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


def _entry_html(e: Entry, opts: _Options, shown: set[str]) -> str:
    code_class = ' class="unknown"' if e.formula is None else ""
    parts = [
        '<div class="entry">',
        f'<p class="words">{_esc(e.words)}</p>',
        f'<p class="formula"><code{code_class}>{_esc(e.formula_text)}</code></p>',
        f'<p class="shapes">{_esc(_shapes_line(e))}</p>',
    ]
    terms = []
    for term in (*e.operands, e.result):
        if term.symbol not in shown:
            shown.add(term.symbol)
            terms.append(_term_html(term, opts, term is e.result))
    if terms:
        parts.append(f'<div class="terms">{"".join(terms)}</div>')
    parts.append("</div>")
    return "".join(parts)


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


def render_html(trace: Trace, *, title: str = "One training step, traced", **options) -> str:
    """The whole trace as one self-contained HTML page (same options as :func:`render_text`)."""
    opts = _Options.make(**options)
    summary = "".join(
        f"<tr><th>{_esc(key)}</th><td>{_esc(value)}</td></tr>" for key, value in _summary(trace)
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
        entries = trace.phase(phase)
        if not entries:
            continue
        parts.append(f'<section class="phase"><h2>{_esc(heading)}</h2>')
        groups: list[list[Entry]] = []
        for e in entries:
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
        _diagnosis_html(trace.diagnosis),
        "</section>",
        "</main></body>",
        "</html>",
    ]
    return "\n".join(parts) + "\n"
