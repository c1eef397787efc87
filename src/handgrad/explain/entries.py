"""The entries of a traced step — :class:`Term` (a named array) and :class:`Entry` (one formula,
evaluated) — and how their numbers print.

* Numbers are shown to ``precision`` significant digits (7 by default, 10 for scalars such as
  the loss), columns aligned on the decimal point.
* A matrix with more than ``max_rows`` rows or ``max_cols`` columns (16 each) is elided: its
  first and last
  ``edge`` rows (columns) are shown around ``⋮`` (``⋯``), and its shape is always written.
* Each entry prints every value its formula uses, then its result (a symbol used twice in one
  formula is printed once), so that an entry reads on its own.
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from .._validation import check_int

PHASES = ("forward", "loss", "backward", "update")
ROW_GAP, COL_GAP, BOTH_GAP = "⋮", "⋯", "⋱"


@dataclass(frozen=True, eq=False)
class Term:
    """A named array of the step: ``symbol`` (``"W1"``), its ``value`` (read-only) and a ``note``
    (e.g. the parameter's name in the model, ``"0.weight"``)."""

    symbol: str
    value: np.ndarray
    note: str = ""

    def __post_init__(self) -> None:
        self.value.flags.writeable = False

    @property
    def shape(self) -> tuple[int, ...]:
        return self.value.shape


@dataclass(frozen=True, eq=False)
class WorkedElement:
    """One element of an entry's result worked out in full, from the layer's ``Formula.element``
    with the step's symbols filled in.

    ``element`` names it (``"Z1[0, 14, 14, 3]"``); ``lines`` are its computation with the numbers;
    ``parts`` the arrays worth seeing whole (a convolution's window and kernel); ``cells`` the
    operand cells it used, as ``(symbol, index text)`` (``("A0", "[0, 13:16, 13:16, :]")``);
    ``value`` what the worked computation gives and ``computed`` the element the layer computed,
    which agree to rounding.
    """

    element: str
    index: tuple[int, ...]
    lines: tuple[str, ...]
    value: float
    computed: float
    parts: tuple[Term, ...] = ()
    cells: tuple[tuple[str, str], ...] = ()
    #: The same cells as ``(symbol, ((row, column), …))`` in the 2-D view a page shows of each
    #: operand (first axis down, the others flattened across).
    grid: tuple[tuple[str, tuple[tuple[int, int], ...]], ...] = ()


@dataclass(frozen=True, eq=False)
class Entry:
    """One formula of the step, evaluated.

    ``phase`` is one of ``"forward"``, ``"loss"``, ``"backward"``, ``"update"``; ``path`` the
    layer's position in the model (``None`` for the input and the loss); ``layer`` its repr;
    ``kind`` its class name; ``formula`` is ``None`` when no formula is known for it.
    ``result = formula(operands)``; ``worked``, when the layer says how, is one element of the
    result worked out with its numbers.
    """

    phase: str
    path: str | None
    layer: str
    kind: str
    words: str
    formula: str | None
    result: Term
    operands: tuple[Term, ...] = ()
    worked: WorkedElement | None = None
    #: ``explain(index)`` works out any element of the result (None without a rule): what a page
    #: shows when an element is clicked.
    explain: Callable[[tuple[int, ...]], WorkedElement] | None = None

    @property
    def formula_text(self) -> str:
        if self.formula is None:
            return f"formula: not available for {self.kind}"
        return self.formula

    def __str__(self) -> str:
        return render_entries_text([self])


#: An axis of up to this many entries is shown whole (a classifier's 10 logits, an 8×8 image).
MAX_ENTRIES = 16


@dataclass(frozen=True)
class RenderOptions:
    precision: int = 7
    max_rows: int = MAX_ENTRIES
    max_cols: int = MAX_ENTRIES
    edge: int = 3

    @staticmethod
    def make(
        precision=7, max_rows=None, max_cols=None, edge=3, max_entries=MAX_ENTRIES
    ) -> RenderOptions:
        """Checked options; ``max_entries`` sets both ``max_rows`` and ``max_cols`` unless they
        are given."""
        edge = check_int(edge, "edge", minimum=1)
        max_entries = check_int(max_entries, "max_entries", minimum=1)
        max_rows = max_entries if max_rows is None else max_rows
        max_cols = max_entries if max_cols is None else max_cols
        limits = {"max_rows": max_rows, "max_cols": max_cols}
        for name, value in limits.items():
            if check_int(value, name) < 2 * edge:
                raise ValueError(
                    f"{name} must be at least 2·edge = {2 * edge} (an elided axis keeps {edge} "
                    f"at each end), got {value}"
                )
        return RenderOptions(check_int(precision, "precision", minimum=1), max_rows, max_cols, edge)


# Numbers -------------------------------------------------------------------------------------


def format_number(v, precision: int) -> str:
    """One number as the trace prints it."""
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


def matrix_cells(value: np.ndarray, opts: RenderOptions) -> tuple[list[list[str]], bool]:
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
            grid.append(
                [COL_GAP if j is None else format_number(a[i, j], opts.precision) for j in cols]
            )
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
    return _matrix_text(value, RenderOptions.make(**options))


def _matrix_text(value: np.ndarray, opts: RenderOptions) -> str:
    a = np.asarray(value)
    if a.ndim == 0:
        return format_number(a[()], max(opts.precision, 10))
    grid, _ = matrix_cells(a, opts)
    columns = [_align(list(col)) for col in zip(*grid)]
    lines = ["  ".join(cells) for cells in zip(*columns)] if columns else [""] * len(grid)
    if a.ndim == 1:
        return f"[{lines[0]}]"
    body = [("[[" if k == 0 else " [") + line + "]" for k, line in enumerate(lines)]
    body[-1] += "]"
    return "\n".join(body)


def shape_text(shape: tuple[int, ...]) -> str:
    return str(tuple(shape))


def elided_note(term: Term, opts: RenderOptions) -> str:
    a = term.value
    if a.ndim == 0:
        return ""
    _, elided = matrix_cells(a, opts)
    return f", showing the first and last {opts.edge} of each long axis" if elided else ""


# Plain text ----------------------------------------------------------------------------------


def term_text(term: Term, opts: RenderOptions, indent: str) -> str:
    note = f" [{term.note}]" if term.note else ""
    if term.value.ndim == 0:
        return f"{indent}{term.symbol}{note} = {_matrix_text(term.value, opts)}"
    head = f"{indent}{term.symbol}{note} {shape_text(term.shape)}{elided_note(term, opts)} ="
    body = _matrix_text(term.value, opts)
    if "\n" not in body and len(head) + len(body) < 100:
        return f"{head} {body}"
    return head + "\n" + "\n".join(indent + "  " + line for line in body.split("\n"))


def shapes_line(entry: Entry) -> str:
    ins = ", ".join(f"{t.symbol} {shape_text(t.shape)}" for t in entry.operands)
    out = f"{entry.result.symbol} {shape_text(entry.result.shape)}"
    return f"shapes: {ins} → {out}" if ins else f"shape: {out}"


def worked_text(w: WorkedElement, opts: RenderOptions, indent: str) -> list[str]:
    """A worked element as lines of text: its computation, what the layer computed, the cells it
    used, and its parts."""
    lines = [f"{indent}one element worked out, {w.element}:"]
    lines += [f"{indent}  {line}" for line in w.lines]
    lines.append(
        f"{indent}  (the layer computed {w.element} = {format_number(w.computed, opts.precision)})"
    )
    if w.cells:
        lines.append(f"{indent}  cells used: " + ", ".join(f"{s}{i}" for s, i in w.cells))
    for part in w.parts:
        lines.append(term_text(part, opts, indent + "  "))
    return lines


def entry_terms(e: Entry) -> list[Term]:
    """The arrays an entry shows: each operand its formula uses, then its result, each symbol
    once."""
    seen: set[str] = set()
    terms = []
    for term in (*e.operands, e.result):
        if term.symbol not in seen:
            seen.add(term.symbol)
            terms.append(term)
    return terms


def entries_text(entries: Iterable[Entry], opts: RenderOptions) -> list[str]:
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
        lines.append(f"    {shapes_line(e)}")
        lines += [term_text(term, opts, "    ") for term in entry_terms(e)]
        if e.worked is not None:
            lines += worked_text(e.worked, opts, "    ")
    return lines


def render_entries_text(entries: Sequence[Entry], **options) -> str:
    """Some entries of a trace as plain text, each with the values its formula uses."""
    return "\n".join(entries_text(entries, RenderOptions.make(**options)))
