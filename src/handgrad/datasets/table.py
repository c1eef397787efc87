"""A CSV file's columns as read, and their encoding as the features a network takes.

:func:`read_table` reads a file into a :class:`Table`: each column is numbers or text, decided
from its cells. :class:`TableEncoder` learns from a table's training rows how to turn its columns
into features, and encodes any table of the same columns the same way:

* a column of numbers is one feature; a missing cell gets the training rows' mean;
* a column of text is one-hot encoded, one feature per category seen in the training rows (in
  sorted order); a missing cell is all zeros, and so is a category never seen, when asked.

**Cells.** A number is a plain decimal: an optional sign, digits with an optional point, an
optional exponent (``-12``, ``3.5``, ``.5``, ``1e-3``), surrounded by spaces or not. Python's
``float`` would also take ``1_000``, ``inf`` and digits of other scripts; those are not numbers
here. A missing cell is empty or one of :data:`MISSING` (any case: ``NA``, ``NaN``, ``null`` …).
A column is numbers when its present cells all are; text when at most half of them are numbers
(so codes such as ``A1``, ``7``, ``B2`` stay categories); a column of mostly numbers with some
other cells is an error naming the first such cell, since it is most likely a typing mistake.

**Two readers, one result.** With pyarrow installed, its CSV reader reads the file (it checks
every row's fields and converts decimals exactly as Python's ``float`` does); without it, or
whenever something in the file needs naming (a bad cell, a short row, undecodable bytes), the
:mod:`csv` module reads it and says where. Both give the same columns, bit for bit, which the
tests check on files made to differ.
"""

from __future__ import annotations

import csv
import json
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .._validation import describe

#: Cells that mean "no value", compared after stripping spaces and ignoring case.
MISSING = frozenset({"", "na", "n/a", "nan", "null", "none", "?"})
#: The spellings of MISSING handed to pyarrow (any other case is caught by the cell reader).
_FAST_MISSING = ["", "NA", "N/A", "n/a", "na", "NaN", "nan", "NAN", "null", "NULL", "Null"]
_FAST_MISSING += ["None", "none", "?"]
_PLAIN = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
#: The delimiters a one-column header is checked for, to say which one the file uses.
_OTHER_DELIMITERS = (";", "\t", "|", ",")
KINDS = ("auto", "number", "text", "raw")
#: Bytes of the file pyarrow parses at a time (a block per task when it reads on several threads).
_ARROW_BLOCK = 4 << 20
#: Rows of the feature matrix written at a time (1024 rows of a few hundred columns: a few MB).
_BLOCK_ROWS = 1024
#: How the Python API names its options in messages; the command line passes its own.
PYTHON_SPELLING = {
    "delimiter": "delimiter={!r}",
    "header": "header=False",
    "ignore": "ignore",
    "unknown": "unknown='ignore'",
}


def is_missing(cell: str) -> bool:
    return cell.strip().lower() in MISSING


def is_number(cell: str) -> bool:
    """A plain decimal number (see the module's docstring), spaces around it allowed."""
    return _PLAIN.fullmatch(cell.strip()) is not None


# The table ------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Column:
    """One column as read.

    ``kind`` "number": ``values`` float64 (NaN where missing), or integers of the narrowest type
    that holds them (no cell missing).
    ``kind`` "text": ``values`` int64 codes into ``labels`` (the distinct stripped cells, sorted),
    -1 where missing. ``kind`` "raw": ``values`` an object array of the cells as they are.
    """

    name: str
    kind: str
    values: np.ndarray
    labels: np.ndarray | None = None


@dataclass(frozen=True, eq=False)
class Table:
    """The columns of a CSV file, by name, in the file's order, and where each row is.

    ``lines`` holds each data row's line number in the file when the :mod:`csv` reader read it,
    and is None when pyarrow did (errors are then found again by the :mod:`csv` reader, which
    names the line).
    """

    path: str
    names: list[str]
    columns: dict[str, Column]
    n_rows: int
    lines: np.ndarray | None

    def __getitem__(self, name: str) -> Column:
        return self.columns[name]


def read_table(
    path: str | os.PathLike,
    *,
    delimiter: str = ",",
    header: bool = True,
    ignore: Sequence[str] = (),
    kinds: Mapping[str, str] | None = None,
    columns: Sequence[str] | None = None,
    spelling: Mapping[str, str] = PYTHON_SPELLING,
    engine: str = "auto",
) -> Table:
    """Read the CSV file at ``path`` into a :class:`Table`.

    Parameters
    ----------
    delimiter : one character
    header : bool
        Whether the first row names the columns. A first row of numbers only is refused as a
        header (it is data). Without a header the columns are named ``"1"``, ``"2"``, …
    ignore : column names
        Columns left out; they are never parsed, so they may hold anything.
    kinds : {name: "auto" | "number" | "text" | "raw"}
        Read these columns as numbers (any other cell is an error), as text (categories), or
        as their raw cells; the others are "auto", decided from their cells.
    columns : column names, optional
        Read only these (and say which of them the file lacks).
    spelling : how the errors name the options (the command line passes its own)
    engine : "auto" (pyarrow when installed), "pyarrow" or "csv"
    """
    path = str(path)
    kinds = dict(kinds or {})
    for name, kind in kinds.items():
        if kind not in KINDS:
            raise ValueError(f"kinds[{name!r}] must be one of {KINDS}, got {kind!r}")
    if engine not in ("auto", "pyarrow", "csv"):
        raise ValueError(f"engine must be 'auto', 'pyarrow' or 'csv', got {engine!r}")
    names, header_lines = read_header(path, delimiter, header, spelling)
    ignore = list(ignore)
    unknown = [n for n in ignore if n not in names]
    if unknown:
        raise ValueError(
            f"{spelling['ignore']}: {_quoted(unknown)} is not a column of "
            f"{path}; its columns are: {_shown(names)}"
        )
    wanted = [n for n in names if n not in ignore]
    if columns is not None:
        lacking = [n for n in columns if n not in names]
        if lacking:
            raise ValueError(
                f"{path} lacks {len(lacking)} of the columns it needs: {_quoted(lacking[:5])}"
                f"{' …' if len(lacking) > 5 else ''}; its columns are: {_shown(names)}"
            )
        wanted = [n for n in wanted if n in columns]
    if engine != "csv" and wanted and header_lines <= 1:
        pa = _pyarrow(required=engine == "pyarrow")
        if pa is not None:
            table = _read_with_arrow(pa, path, delimiter, names, header, wanted, kinds)
            if table is not None:
                return table
    return _read_with_csv(path, delimiter, names, header_lines, wanted, kinds)


def _pyarrow(required: bool):
    try:
        import pyarrow
    except ImportError:
        if required:
            raise ImportError(
                "engine='pyarrow' needs pyarrow: pip install 'handgrad[cli]'"
            ) from None
        return None
    return pyarrow


def _open_text(path: str):
    # utf-8-sig drops the byte-order mark that spreadsheet programs put at the start.
    return open(path, newline="", encoding="utf-8-sig")


def read_header(
    path: str,
    delimiter: str = ",",
    header: bool = True,
    spelling: Mapping[str, str] = PYTHON_SPELLING,
) -> tuple[list[str], int]:
    """The column names and the number of lines the header takes (0 without one)."""
    _check_text(path)
    try:
        with _open_text(path) as f:
            reader = csv.reader(f, delimiter=delimiter)
            first = next(reader, None)
            lines = reader.line_num
    except UnicodeDecodeError as exc:
        raise _not_utf8(path, exc) from None
    except csv.Error as exc:
        raise ValueError(f"{path} is not a CSV file the csv module can read: {exc}") from None
    if not first:
        raise ValueError(f"{path} is empty: expected a header row with the column names")
    if not header:
        return [str(i + 1) for i in range(len(first))], 0
    names = [name.strip() for name in first]
    if all(is_number(name) for name in names):
        raise ValueError(
            f"{path}: its first row, {delimiter.join(first)!r}, holds only numbers: it looks "
            f"like data, not column names; if the file has no header row, give "
            f"{spelling['header']} (the columns are then named 1, 2, …)"
        )
    seen = set()
    for name in names:
        if name in seen:
            raise ValueError(f"{path}: the column name {name!r} appears more than once")
        seen.add(name)
    if len(names) == 1:
        for other in _OTHER_DELIMITERS:
            if other != delimiter and other in names[0]:
                raise ValueError(
                    f"{path} has one column, {names[0]!r}: its header looks "
                    f"{other!r}-separated; give {spelling['delimiter'].format(other)}"
                )
    return names, lines


def _check_text(path: str) -> None:
    """Refuse a binary file before the CSV reader gives a confusing answer about it."""
    with open(path, "rb") as f:
        head = f.read(8192)
    if b"\x00" in head:
        raise ValueError(
            f"{path} is a binary file (it holds NUL bytes), not CSV text; handgrad reads CSV "
            "files of UTF-8 text"
        )


def _not_utf8(path: str, exc: UnicodeDecodeError) -> ValueError:
    bad = exc.object[exc.start : exc.start + 4]
    return ValueError(
        f"{path} is not UTF-8 text: the bytes {bad!r} at offset {exc.start} cannot be decoded "
        f"({exc.reason}); save it as UTF-8 (a spreadsheet's 'CSV UTF-8'), or convert it, e.g. "
        "iconv -f latin1 -t utf-8"
    )


# The csv module's reader: slower, and names every problem's line --------------------------------


def _read_with_csv(path, delimiter, names, header_lines, wanted, kinds) -> Table:
    positions = [names.index(n) for n in wanted]
    cells: list[list[str]] = [[] for _ in wanted]
    lines = []
    try:
        with _open_text(path) as f:
            reader = csv.reader(f, delimiter=delimiter)
            for _ in range(header_lines):
                next(reader)
            for row in reader:
                if not row:
                    continue
                if len(row) != len(names):
                    raise ValueError(
                        f"{path}, line {reader.line_num}: expected {len(names)} fields as in the "
                        f"header, got {len(row)}"
                    )
                for out, j in zip(cells, positions):
                    out.append(row[j])
                lines.append(reader.line_num)
    except UnicodeDecodeError as exc:
        raise _not_utf8(path, exc) from None
    except csv.Error as exc:
        raise ValueError(f"{path}, line {reader.line_num}: {exc}") from None
    line_numbers = np.array(lines, dtype=np.int64)
    columns = {
        name: column_from_cells(name, column, kinds.get(name, "auto"), path, line_numbers)
        for name, column in zip(wanted, cells)
    }
    return Table(path, list(wanted), columns, len(lines), line_numbers)


def column_from_cells(
    name: str, cells: Sequence[Any], kind: str, path: str, lines: np.ndarray | None
) -> Column:
    """A :class:`Column` from its cells (strings; a float NaN counts as a missing cell).

    ``lines`` gives each cell's line for the errors; without them the error says "row"."""
    if kind == "raw":
        return Column(name, "raw", np.array(["" if c != c else c for c in cells], dtype=object))
    stripped = ["" if c != c else c.strip() for c in cells]
    missing = np.fromiter((c.lower() in MISSING for c in stripped), bool, len(stripped))
    numbers = np.fromiter((_PLAIN.fullmatch(c) is not None for c in stripped), bool, len(stripped))
    present = int((~missing).sum())
    n_numbers = int(numbers.sum())
    if kind == "number" or (kind == "auto" and present and n_numbers * 2 > present):
        bad = np.flatnonzero(~missing & ~numbers)
        if len(bad):
            i = int(bad[0])
            raise ValueError(
                f"{_where(path, lines, i)}, column {name!r}: expected a finite number, got "
                f"{cells[i]!r} (a plain decimal such as -12, 3.5 or 1e-3; leave the cell empty "
                "or NA for a missing value)"
            )
        values = np.full(len(stripped), np.nan)
        for i in np.flatnonzero(numbers):
            values[i] = float(stripped[i])
        values += 0.0  # -0 is 0, as pyarrow reads an integer column
        infinite = np.flatnonzero(np.isinf(values))
        if len(infinite):
            i = int(infinite[0])
            raise ValueError(
                f"{_where(path, lines, i)}, column {name!r}: expected a finite number, got "
                f"{cells[i]!r}"
            )
        return _number_column(name, values)
    if kind == "auto" and not present:
        return _number_column(name, np.full(len(stripped), np.nan))
    text = np.array(stripped, dtype=object)
    labels, codes = np.unique(text[~missing].astype(str), return_inverse=True)
    values = np.full(len(stripped), -1, dtype=np.int64)
    values[~missing] = codes.reshape(-1)
    return Column(name, "text", values, labels.astype(object))


def _number_column(name: str, values: np.ndarray) -> Column:
    return Column(name, "number", values)


def _where(path: str, lines: np.ndarray | None, i: int) -> str:
    return f"{path}, line {int(lines[i])}" if lines is not None else f"{path}, data row {i + 1}"


# pyarrow's reader: fast, and silent about where a problem is, so it hands those to the csv reader


def _read_with_arrow(pa, path, delimiter, names, header, wanted, kinds) -> Table | None:
    """The table read by pyarrow's CSV reader, or None when the csv reader must read it (to name
    a problem, or for anything this function does not expect), so both give the same result.

    pyarrow checks every row's number of fields, reads decimals exactly as Python's ``float``
    does, and trims spaces around numbers as the cell reader does; columns it cannot read as
    numbers come back as text and go through the same cell reader as the csv module's."""
    from pyarrow import compute
    from pyarrow import csv as arrow_csv

    text = {n for n in wanted if kinds.get(n, "auto") in ("text", "raw")}
    convert = arrow_csv.ConvertOptions(
        include_columns=wanted,
        column_types={n: pa.string() for n in text},
        null_values=_FAST_MISSING,
        strings_can_be_null=False,  # text keeps its "NA": the cell reader decides, as in csv
        true_values=["\x00"],  # no cell is a boolean: True and yes stay text
        false_values=["\x00"],
        timestamp_parsers=[],  # nor a date
        check_utf8=True,
    )
    read = arrow_csv.ReadOptions(
        column_names=names, skip_rows=1 if header else 0, block_size=_ARROW_BLOCK
    )
    # A line break inside quotes splits its row, which then has too few fields and too many: for
    # two columns or more that is always an error, and the csv reader reads such a file.
    parse = arrow_csv.ParseOptions(delimiter=delimiter, newlines_in_values=len(names) < 2)
    try:
        frame = arrow_csv.read_csv(
            path, read_options=read, parse_options=parse, convert_options=convert
        )
    except (pa.ArrowInvalid, pa.ArrowTypeError, UnicodeDecodeError, ValueError):
        return None
    n_rows = frame.num_rows
    if n_rows == 0:
        return None
    arrays = dict(zip(frame.column_names, frame.columns))
    del frame
    columns = {}
    for name in wanted:
        data = arrays.pop(name)  # its buffers go as soon as its NumPy array is made
        kind = kinds.get(name, "auto")
        kind_of = data.type
        if kind in ("auto", "number") and (
            pa.types.is_integer(kind_of) or pa.types.is_floating(kind_of)
        ):
            if pa.types.is_floating(kind_of) and (
                compute.any(compute.is_nan(data)).as_py()
                or compute.any(compute.is_inf(data)).as_py()
            ):
                return None  # a NaN or an infinity written as such: the csv reader names it
            values = data.to_numpy()
            if values.dtype.kind != "i" or data.null_count:
                values = values.astype(np.float64) + 0.0  # -0.0 is 0.0, as in an integer column
            elif len(values):  # integers are kept in the narrowest type that holds them exactly
                low, high = values.min(), values.max()
                narrow = np.result_type(np.min_scalar_type(low), np.min_scalar_type(high))
                values = values.astype(narrow, copy=False)
            columns[name] = Column(name, "number", values)
        elif kind in ("auto", "number") and pa.types.is_null(kind_of):
            columns[name] = Column(name, "number", np.full(n_rows, np.nan))
        elif pa.types.is_string(kind_of) or pa.types.is_large_string(kind_of):
            try:
                columns[name] = column_from_cells(name, data.to_pylist(), kind, path, None)
            except ValueError:
                return None  # a bad cell: the csv reader names its line
        else:
            return None
    del data, arrays
    # Hand the parser's memory back now, before the feature matrix is allocated: the peak is then
    # the parser's, not the parser's plus the matrix's.
    pa.default_memory_pool().release_unused()
    return Table(path, list(wanted), columns, n_rows, None)


# The encoding ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ColumnCoding:
    """How one column becomes features: ``"number"`` (one feature, ``fill`` for a missing cell)
    or ``"categories"`` (one feature per category, all zeros for a missing cell)."""

    name: str
    kind: str
    fill: float | None = None
    categories: tuple[str, ...] = ()

    @property
    def features(self) -> list[str]:
        if self.kind == "number":
            return [self.name]
        return [f"{self.name}={c}" for c in self.categories]

    def to_json(self) -> dict[str, Any]:
        if self.kind == "number":
            return {"name": self.name, "kind": "number", "fill": self.fill}
        return {"name": self.name, "kind": "categories", "categories": list(self.categories)}


@dataclass(frozen=True)
class TableEncoder:
    """What turns a table's columns into features, learned from training rows (see the module's
    docstring), and what it saw there: ``report`` lines say what was filled and encoded."""

    columns: tuple[ColumnCoding, ...]
    report: tuple[str, ...] = ()

    @classmethod
    def fit(
        cls, table: Table, rows: np.ndarray | None = None, exclude: Sequence[str] = ()
    ) -> TableEncoder:
        """Learn the encoding of every column of ``table`` but ``exclude`` (the target) from
        ``rows`` (row indices; all rows when None)."""
        codings, report = [], []
        for name in table.names:
            if name in exclude:
                continue
            column = table[name]
            values = column.values if rows is None else column.values[rows]
            if column.kind == "number":
                present = values[~np.isnan(values)] if values.dtype.kind == "f" else values
                if not len(present):
                    raise ValueError(
                        f"column {name!r} of {table.path} has no value in the training rows: "
                        "leave it out, or give it values"
                    )
                fill = _mean(present)
                codings.append(ColumnCoding(name, "number", fill=fill))
                if len(present) < len(values):
                    gap = len(values) - len(present)
                    report.append(
                        f"{name}: {gap} missing cell{'s' * (gap != 1)} filled with the training "
                        f"mean {fill:.6g}"
                    )
            elif column.kind == "text":
                seen = np.unique(values[values >= 0])
                categories = tuple(str(label) for label in column.labels[seen])
                codings.append(ColumnCoding(name, "categories", categories=categories))
                gap = int((values < 0).sum())
                shown = ", ".join(categories[:6]) + (" …" if len(categories) > 6 else "")
                note = f"; {gap} missing cell{'s' * (gap != 1)} encoded as zeros" if gap else ""
                report.append(f"{name}: text, one-hot into {len(categories)} ({shown}){note}")
            else:
                raise ValueError(f"column {name!r} was read raw, and cannot be encoded")
        if not codings:
            raise ValueError(f"{table.path} has no feature column left to learn from")
        return cls(tuple(codings), tuple(report))

    @property
    def feature_names(self) -> list[str]:
        return [f for c in self.columns for f in c.features]

    @property
    def n_features(self) -> int:
        return sum(len(c.features) for c in self.columns)

    @property
    def kinds(self) -> dict[str, str]:
        """How :func:`read_table` must read each column for :meth:`transform`."""
        return {c.name: "number" if c.kind == "number" else "text" for c in self.columns}

    def transform(
        self,
        table: Table,
        rows: np.ndarray | None = None,
        unknown: str = "error",
        spelling: Mapping[str, str] = PYTHON_SPELLING,
    ) -> np.ndarray:
        """The features of ``table``'s ``rows`` (all when None), float64, in the order of
        :attr:`feature_names`. ``unknown="error"`` refuses a category the training rows did not
        have, naming the column and the value; ``"ignore"`` encodes it as all zeros."""
        if unknown not in ("error", "ignore"):
            raise ValueError(f"unknown must be 'error' or 'ignore', got {unknown!r}")
        n = table.n_rows if rows is None else len(rows)
        X = np.zeros((n, self.n_features))
        numbers: list[tuple[int, np.ndarray]] = []  # written by blocks of rows, below
        j = 0
        for coding in self.columns:
            if coding.name not in table.columns:
                raise ValueError(f"{table.path} has no column {coding.name!r}")
            column = table[coding.name]
            values = column.values if rows is None else column.values[rows]
            if coding.kind == "number":
                if column.kind != "number":
                    raise ValueError(
                        f"{table.path}, column {coding.name!r}: expected numbers, got text"
                    )
                if values.dtype.kind == "f" and np.isnan(values).any():
                    if coding.fill is None:
                        i = int(np.flatnonzero(np.isnan(values))[0])
                        raise ValueError(
                            f"{table.path}, column {coding.name!r}: data row "
                            f"{(i if rows is None else int(rows[i])) + 1} is missing, and this "
                            "encoding has no value to fill it with"
                        )
                    values = np.where(np.isnan(values), coding.fill, values)
                numbers.append((j, values))
                j += 1
                continue
            if column.kind != "text":
                raise ValueError(f"{table.path}, column {coding.name!r}: expected text cells")
            index = {c: k for k, c in enumerate(coding.categories)}
            mapping = np.array([index.get(str(label), -1) for label in column.labels], np.int64)
            mapping = np.append(mapping, -1)  # code -1 (missing) maps to -1 too
            slots = mapping[values]
            unseen = (slots < 0) & (values >= 0)
            if unseen.any() and unknown == "error":
                i = int(np.flatnonzero(unseen)[0])
                label = column.labels[values[i]]
                shown = ", ".join(repr(c) for c in coding.categories[:8])
                raise ValueError(
                    f"{table.path}, column {coding.name!r}: {label!r} (data row "
                    f"{(i if rows is None else int(rows[i])) + 1}) is a category the training "
                    f"rows did not have ({shown}{' …' if len(coding.categories) > 8 else ''}); "
                    f"with {spelling['unknown']} it is encoded as zeros"
                )
            hit = np.flatnonzero(slots >= 0)
            X[hit, j + slots[hit]] = 1.0
            j += len(coding.categories)
        # Column by column into the row-major X, a block of rows at a time: each block stays in
        # the cache while its columns are written (whole columns at once would be ~5x slower).
        for start in range(0, n, _BLOCK_ROWS):
            block = X[start : start + _BLOCK_ROWS]
            for j, values in numbers:
                block[:, j] = values[start : start + _BLOCK_ROWS]
        return X

    def read_csv(
        self,
        path: str | os.PathLike,
        *,
        delimiter: str = ",",
        header: bool = True,
        unknown: str = "error",
    ) -> np.ndarray:
        """The features of the rows of another CSV file, encoded as the training rows were: its
        columns are found by name (in any order, others ignored)."""
        table = read_table(
            path,
            delimiter=delimiter,
            header=header,
            kinds=self.kinds,
            columns=[c.name for c in self.columns],
        )
        return self.transform(table, unknown=unknown)

    def describe(self) -> list[str]:
        """One line per column: its name and its treatment."""
        lines = []
        for c in self.columns:
            if c.kind == "number":
                lines.append(f"{c.name}: number; a missing cell becomes {c.fill:.6g}")
            else:
                shown = ", ".join(c.categories[:8]) + (" …" if len(c.categories) > 8 else "")
                lines.append(f"{c.name}: text, one-hot into {len(c.categories)} features ({shown})")
        return lines

    def to_json(self) -> list[dict[str, Any]]:
        return [c.to_json() for c in self.columns]

    @classmethod
    def from_json(cls, value: Any, where: str) -> TableEncoder:
        """The encoder that :meth:`to_json` wrote, checked."""
        if not isinstance(value, list) or not value:
            raise ValueError(f"{where}: 'columns' must be a non-empty list, got {describe(value)}")
        codings = []
        for item in value:
            if not isinstance(item, dict) or not isinstance(item.get("name"), str):
                raise ValueError(f"{where}: each of 'columns' must be an object with a name")
            kind = item.get("kind")
            if kind == "number" and _finite(item.get("fill")):
                codings.append(ColumnCoding(item["name"], "number", fill=float(item["fill"])))
            elif kind == "categories" and _strings(item.get("categories")):
                codings.append(
                    ColumnCoding(item["name"], "categories", categories=tuple(item["categories"]))
                )
            else:
                raise ValueError(
                    f"{where}: column {item['name']!r} must be a number with a finite fill or "
                    f"categories listed as strings, got {json.dumps(item)[:200]}"
                )
        return cls(tuple(codings))


def _mean(values: np.ndarray) -> float:
    """The mean in float64 without overflow: the values divided by a power of two near their
    largest first (exactly)."""
    values = values.astype(np.float64)
    peak = float(np.abs(values).max())
    unit = float(np.ldexp(1.0, np.frexp(peak)[1] - 1)) if peak > 0 else 1.0
    return float((values / unit).mean() * unit)


def _finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and np.isfinite(value)


def _strings(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def _quoted(names: Sequence[str]) -> str:
    return ", ".join(repr(n) for n in names)


def _shown(names: Sequence[str]) -> str:
    return ", ".join(names[:20]) + (" …" if len(names) > 20 else "")
