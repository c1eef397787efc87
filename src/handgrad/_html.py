"""Small HTML pieces for the rich displays of notebooks (``_repr_html_``).

A display is a *fragment*: one ``<div>`` of its own class with a ``<style>`` whose every selector
starts with that class, so that showing it never restyles the notebook around it. Text is always
escaped.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence

#: The rules every display shares, written for the scope ``{s}`` (a class selector).
_BASE_CSS = (
    "{s} {{ font: 13px/1.45 system-ui, -apple-system, 'Segoe UI', sans-serif; color: #1d2330; "
    "max-width: 100%; overflow-x: auto; }}\n"
    "{s} table {{ border-collapse: collapse; margin: 4px 0; }}\n"
    "{s} th, {s} td {{ border: 1px solid #d9dde5; padding: 2px 8px; text-align: left; }}\n"
    "{s} th {{ background: #f4f6fa; font-weight: 600; }}\n"
    "{s} td.n {{ text-align: right; font-variant-numeric: tabular-nums; "
    "font-family: ui-monospace, Menlo, Consolas, monospace; }}\n"
    "{s} .hg-bad {{ color: #b3261e; font-weight: 600; }}\n"
    "{s} .hg-good {{ color: #1b7a3a; font-weight: 600; }}\n"
    "{s} .hg-note {{ color: #5b6475; margin: 2px 0; }}\n"
    "{s} .hg-title {{ font-weight: 600; margin: 2px 0 4px; }}\n"
)


def esc(text: object) -> str:
    return html.escape(str(text), quote=True)


def scoped_css(scope: str, extra: str = "") -> str:
    """The shared rules and ``extra`` (already written with ``.scope`` selectors) for the class
    ``scope``."""
    return _BASE_CSS.format(s=f".{scope}") + extra


def fragment(scope: str, body: str, extra_css: str = "") -> str:
    """``body`` inside ``<div class="scope">``, with its style scoped to that class."""
    return f'<div class="{scope}"><style>{scoped_css(scope, extra_css)}</style>{body}</div>'


def table(
    head: Sequence[str],
    rows: Iterable[Sequence[object]],
    numeric: Iterable[int] = (),
    row_classes: Iterable[str] | None = None,
) -> str:
    """A table with header ``head``; the columns in ``numeric`` are right-aligned numbers."""
    numeric = set(numeric)
    classes = iter(row_classes) if row_classes is not None else None
    out = ["<table><thead><tr>", *(f"<th>{esc(h)}</th>" for h in head), "</tr></thead><tbody>"]
    for row in rows:
        cls = next(classes) if classes is not None else ""
        out.append(f'<tr class="{esc(cls)}">' if cls else "<tr>")
        for k, cell in enumerate(row):
            out.append(
                f'<td class="n">{esc(cell)}</td>' if k in numeric else f"<td>{esc(cell)}</td>"
            )
        out.append("</tr>")
    out.append("</tbody></table>")
    return "".join(out)


def md_cell(text: object) -> str:
    """A Markdown table cell: the characters that would break the table escaped."""
    return "".join("\\" + c if c in "\\|*_`<>[]" else c for c in str(text)).replace("\n", " ")


def md_table(head: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    lines = ["| " + " | ".join(md_cell(h) for h in head) + " |"]
    lines.append("|" + "---|" * len(head))
    lines += ["| " + " | ".join(md_cell(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)
