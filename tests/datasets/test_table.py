"""CSV tables: numbers, text and missing cells, their encoding, and two readers that agree."""

import csv

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from reliability import record

from handgrad import datasets
from handgrad.datasets.table import TableEncoder, is_number, read_table

pytest.importorskip("pyarrow")
ENGINES = ["pyarrow", "csv"]


def write(tmp_path, text, name="data.csv", **kwargs):
    path = tmp_path / name
    path.write_text(text, **kwargs)
    return path


HOUSES = (
    "size,colour,rooms,district,price\n"
    "50,red,2,north,100\n"
    "NA,blue,3,south,150\n"
    "70,,,north,170\n"
    "80,red,4,south,NA\n"
    "90,green,NaN,east,210\n"
    "60,blue,2,,\n"
)


@pytest.mark.parametrize("engine", ENGINES)
def test_numbers_text_and_missing_cells(engine, tmp_path):
    table = read_table(write(tmp_path, HOUSES), engine=engine)
    assert table.names == ["size", "colour", "rooms", "district", "price"]
    assert table["colour"].kind == "text"
    assert table["colour"].labels.tolist() == ["blue", "green", "red"]
    assert table["colour"].values.tolist() == [2, 0, -1, 2, 1, 0]
    size = table["size"].values.astype(float)
    assert table["size"].kind == "number" and np.isnan(size[1])
    assert size[~np.isnan(size)].tolist() == [50, 70, 80, 90, 60]
    assert (
        table.lines is None if engine == "pyarrow" else table.lines.tolist() == [2, 3, 4, 5, 6, 7]
    )


def test_load_csv_encodes_and_says_what_it_did(tmp_path):
    ds = datasets.load_csv(write(tmp_path, HOUSES), "price", task="regression")
    # Rows 4 and 6 have no price and are left out; the means are those of the rows kept.
    assert ds.task == "regression" and ds.y_train.tolist() == [100, 150, 170, 210]
    assert ds.feature_names == [
        "size",
        "colour=blue",
        "colour=green",
        "colour=red",
        "rooms",
        "district=east",
        "district=north",
        "district=south",
    ]
    size_mean = (50 + 70 + 90) / 3
    rooms_mean = (2 + 3) / 2
    expected = [
        [50, 0, 0, 1, 2, 0, 1, 0],
        [size_mean, 1, 0, 0, 3, 0, 0, 1],
        [70, 0, 0, 0, rooms_mean, 0, 1, 0],  # colour missing: no category
        [90, 0, 1, 0, rooms_mean, 1, 0, 0],
    ]
    np.testing.assert_array_equal(ds.X_train, expected)
    assert "Left out 2 rows whose target is missing." in ds.description
    assert "size: 1 missing cell filled with the training mean 70." in ds.description
    assert "colour: text, one-hot into 3 (blue, green, red); 1 missing cell encoded as zeros" in (
        ds.description
    )


def test_the_encoder_encodes_new_rows_the_same_way(tmp_path):
    ds = datasets.load_csv(write(tmp_path, HOUSES), "price")
    new = write(
        tmp_path, "district,rooms,colour,size,note\nsouth,,red,NA,x\neast,5,blue,55,y\n", "new.csv"
    )
    X = ds.encoder.read_csv(new)
    np.testing.assert_array_equal(X, [[70, 0, 0, 1, 2.5, 0, 0, 1], [55, 1, 0, 0, 5, 1, 0, 0]])
    unseen = write(tmp_path, "size,colour,rooms,district\n1,purple,2,north\n", "unseen.csv")
    with pytest.raises(ValueError) as info:
        ds.encoder.read_csv(unseen)
    assert str(info.value) == (
        f"{unseen}, column 'colour': 'purple' (data row 1) is a category the training rows did "
        "not have ('blue', 'green', 'red'); with unknown='ignore' it is encoded as zeros"
    )
    np.testing.assert_array_equal(
        ds.encoder.read_csv(unseen, unknown="ignore"), [[1, 0, 0, 0, 2, 0, 1, 0]]
    )
    record("bad inputs refused", 1)


def test_the_encoder_survives_its_json(tmp_path):
    ds = datasets.load_csv(write(tmp_path, HOUSES), "price")
    again = TableEncoder.from_json(ds.encoder.to_json(), "test")
    assert again.columns == ds.encoder.columns
    assert again.describe()[1] == "colour: text, one-hot into 3 features (blue, green, red)"
    with pytest.raises(ValueError, match="column 'x' must be a number with a finite fill"):
        TableEncoder.from_json([{"name": "x", "kind": "number", "fill": None}], "test")


def test_ignored_columns_are_never_parsed(tmp_path):
    text = 'id,name,x,y\n1,"Smith, J.",0.5,a\n2,1_000,1.5,b\nthree,NaN,2.5,a\n'
    ds = datasets.load_csv(write(tmp_path, text), "y", ignore=["id", "name"])
    assert ds.feature_names == ["x"] and ds.X_train[:, 0].tolist() == [0.5, 1.5, 2.5]


def test_a_headerless_file(tmp_path):
    path = write(tmp_path, "1,2,0\n3,4,1\n5,6,0\n")
    with pytest.raises(ValueError, match="looks like data, not column names; if the file has no"):
        datasets.load_csv(path, "3")
    ds = datasets.load_csv(path, "3", header=False)
    assert ds.feature_names == ["1", "2"] and ds.X_train.tolist() == [[1, 2], [3, 4], [5, 6]]
    assert ds.classes.tolist() == [0, 1] and ds.y_train.tolist() == [0, 1, 0]


def test_mostly_text_is_categories_and_plain_decimals_only(tmp_path):
    text = "code,amount,y\nA1,1_000,a\n7,2_000,b\nB2,3_000,a\n"
    ds = datasets.load_csv(write(tmp_path, text), "y")
    assert ds.feature_names[:3] == ["code=7", "code=A1", "code=B2"]
    assert ds.feature_names[3:] == ["amount=1_000", "amount=2_000", "amount=3_000"]
    assert [is_number(c) for c in ("1_000", "١", "inf", "nan", "0x1", " -1.5e3 ", ".5", "5.")] == [
        False,
        False,
        False,
        False,
        False,
        True,
        True,
        True,
    ]


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize(
    ("content", "message"),
    [
        (
            "a,b\nr\xe9sum\xe9,1\n".encode("latin-1"),
            "is not UTF-8 text: the bytes b'\\xe9sum' at offset 5 cannot be decoded (invalid "
            "continuation byte); save it as UTF-8",
        ),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "is a binary file (it holds NUL bytes), not CSV"),
        (b"a,b\n1,2\n3\n4,5\n", ", line 3: expected 2 fields as in the header, got 1"),
        (b"a,b\n1,2\n3,4,5\n4,5\n", ", line 3: expected 2 fields as in the header, got 3"),
    ],
)
def test_unreadable_files_are_named(engine, content, message, tmp_path):
    path = tmp_path / "bad.csv"
    path.write_bytes(content)
    with pytest.raises(ValueError) as info:
        read_table(path, engine=engine)
    assert str(info.value).startswith(str(path)) and message in str(info.value)
    record("bad inputs refused", 1)


# The two readers agree ---------------------------------------------------------------------------

CELLS = st.sampled_from(
    [
        "",
        " ",
        "NA",
        "na",
        "nUlL",
        "NaN",
        "?",
        "0",
        "-0",
        "007",
        "+5",
        " 12 ",
        "5.",
        ".5",
        "-.25",
        "1e5",
        "1E-400",
        "9007199254740993",
        "123456789012345678901234567890",
        "0.1000000000000000055511151231257827",
        "2.2250738585072011e-308",
        "True",
        "false",
        "red",
        " blue",
        "a,b",
        'say "hi"',
        "1_000",
        "é",
    ]
)


@given(st.lists(st.lists(CELLS, min_size=3, max_size=3), min_size=1, max_size=12), st.data())
def test_pyarrow_and_the_csv_module_give_the_same_result(tmp_path_factory, rows, data):
    # A column is made mostly numbers or mostly text, so that both kinds occur often.
    numeric = st.sampled_from(["1", "-2.5", "1e3", " 4 ", "0.1", "NA", ""])
    for row in rows:
        if data.draw(st.booleans()):
            row[0] = data.draw(numeric)
    path = tmp_path_factory.mktemp("same") / "cells.csv"
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["a", "b", "c"])
        writer.writerows(rows)
    results = []
    for engine in ENGINES:
        try:
            table = read_table(path, engine=engine)
        except ValueError as exc:
            results.append(("error", str(exc)))
            continue
        results.append(("table", [_column(table[n]) for n in table.names]))
    assert results[0] == results[1]


def _column(column):
    if column.kind == "number":
        values = column.values.astype(np.float64)
        return ("number", values.view(np.int64).tolist())  # bit for bit, NaN included
    return (
        column.kind,
        column.values.tolist(),
        None if column.labels is None else column.labels.tolist(),
    )
