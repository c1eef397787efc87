"""handgrad.explain.plots: the figures show the numbers of the history and the matrix, as PNG."""

import struct
import subprocess
import sys

import numpy as np
import pytest

import handgrad as hg
from handgrad.explain import plots

pytest.importorskip("matplotlib")

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def png_size(path) -> tuple[int, int]:
    """Width and height from the IHDR chunk, which a PNG must start with."""
    data = path.read_bytes()
    assert data[:8] == PNG_SIGNATURE
    length, kind = struct.unpack(">I4s", data[8:16])
    assert kind == b"IHDR" and length == 13
    return struct.unpack(">II", data[16:24])


def trained_history(validation: bool, metrics="auto", epochs=4) -> hg.History:
    rng = np.random.default_rng(0)
    X = rng.standard_normal((80, 3))
    y = (X[:, 0] > 0).astype(int)
    model = hg.Sequential([hg.Dense(3, 8, rng=1), hg.ReLU(), hg.Dense(8, 2, rng=2)])
    return model.fit(
        X,
        y,
        loss=hg.CrossEntropyLoss(),
        optimizer=hg.Adam(model.parameters(), lr=0.01),
        epochs=epochs,
        seed=0,
        validation_split=0.25 if validation else 0.0,
        metrics=metrics,
    )


def test_learning_curves_plot_the_history_per_epoch():
    history = trained_history(validation=True)
    fig = plots.learning_curves_figure(history, title="run")
    loss_ax, metric_ax = fig.axes
    train_loss, val_loss = loss_ax.lines
    np.testing.assert_array_equal(train_loss.get_xdata(), [1, 2, 3, 4])
    np.testing.assert_array_equal(train_loss.get_ydata(), history["loss"])
    np.testing.assert_array_equal(val_loss.get_ydata(), history["val_loss"])
    assert [line.get_label() for line in loss_ax.lines] == ["training", "validation"]
    np.testing.assert_array_equal(metric_ax.lines[0].get_ydata(), history["accuracy"])
    np.testing.assert_array_equal(metric_ax.lines[1].get_ydata(), history["val_accuracy"])
    assert metric_ax.get_ylabel() == "accuracy"
    assert fig.get_suptitle() == "run"


def test_learning_curves_without_validation_or_metric():
    history = trained_history(validation=False, metrics=None, epochs=3)
    fig = plots.learning_curves_figure(history)
    (ax,) = fig.axes
    (line,) = ax.lines
    np.testing.assert_array_equal(line.get_ydata(), history["loss"])


def test_learning_curves_of_a_regression_show_r2():
    history = hg.History()
    history.epochs = [0, 1]
    history.history = {"loss": [2.0, 1.0], "mae": [1.5, 0.7], "r2": [0.1, 0.6]}
    fig = plots.learning_curves_figure(history)
    assert fig.axes[1].get_ylabel() == "R²"
    np.testing.assert_array_equal(fig.axes[1].lines[0].get_ydata(), [0.1, 0.6])


def test_learning_curves_refuse_an_empty_history():
    with pytest.raises(ValueError, match="at least one epoch"):
        plots.learning_curves_figure(hg.History())


def test_confusion_matrix_counts_each_pair():
    y_true = np.array([0, 0, 1, 1, 1, 2])
    y_pred = np.array([0, 1, 1, 1, 2, 0])
    expected = np.array([[1, 1, 0], [0, 2, 1], [1, 0, 0]])
    np.testing.assert_array_equal(plots.confusion_matrix(y_true, y_pred, 3), expected)


def test_confusion_matrix_keeps_classes_never_seen():
    matrix = plots.confusion_matrix(np.array([1, 1]), np.array([1, 0]), 4)
    assert matrix.shape == (4, 4)
    assert matrix.sum() == 2 and matrix[1, 1] == 1 and matrix[1, 0] == 1


@pytest.mark.parametrize(
    ("y_true", "y_pred", "message"),
    [
        ([0, 1], [0], "same length"),
        ([0, 3], [0, 1], "y_true must hold class indices 0 … 2"),
        ([0, 1], [0, -1], "y_pred must hold class indices"),
        ([0.0, 1.0], [0, 1], "y_true must hold class indices"),
    ],
)
def test_confusion_matrix_refuses_bad_labels(y_true, y_pred, message):
    with pytest.raises(ValueError, match=message):
        plots.confusion_matrix(np.array(y_true), np.array(y_pred), 3)


def test_confusion_figure_shows_the_matrix_and_accuracy():
    matrix = np.array([[5, 1], [2, 2]])
    fig = plots.confusion_figure(matrix, ["cat", "dog"], title="test rows")
    (ax, _colorbar) = fig.axes
    np.testing.assert_array_equal(ax.images[0].get_array(), matrix)
    assert sorted(t.get_text() for t in ax.texts) == ["1", "2", "2", "5"]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["cat", "dog"]
    assert ax.get_title() == "test rows\naccuracy 70.00% on 10 samples"


def test_confusion_figure_refuses_a_matrix_of_another_size():
    with pytest.raises(ValueError, match=r"matrix must be \(3, 3\) for 3 classes"):
        plots.confusion_figure(np.eye(2), ["a", "b", "c"])


def test_figures_save_as_png_of_the_figure_size(tmp_path):
    fig = plots.learning_curves_figure(trained_history(validation=True))
    path = tmp_path / "curves.png"
    plots.save_png(fig, path, dpi=50)
    width, height = fig.get_size_inches() * 50
    assert png_size(path) == (round(width), round(height))

    fig = plots.confusion_figure(np.eye(3, dtype=int), [0, 1, 2])
    plots.save_png(fig, tmp_path / "confusion.png", dpi=80)
    width, height = fig.get_size_inches() * 80
    assert png_size(tmp_path / "confusion.png") == (round(width), round(height))


def test_save_png_names_a_missing_folder(tmp_path):
    fig = plots.confusion_figure(np.eye(2, dtype=int), ["a", "b"])
    with pytest.raises(FileNotFoundError, match="does not exist"):
        plots.save_png(fig, tmp_path / "nowhere" / "c.png")


def test_importing_handgrad_and_its_command_line_loads_no_plotting_or_progress_package():
    code = (
        "import sys, handgrad, handgrad.cli, handgrad.explain.plots; "
        "print(sorted(m for m in ('matplotlib', 'tqdm', 'sklearn', 'safetensors', 'onnx') "
        "if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
