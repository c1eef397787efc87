"""The subcommands' work: training, evaluating, predicting, summaries, traces and exports."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from helpers.cli import QUICK, one_line_error, read_csv, write_csv

import handgrad as hg
from handgrad.cli import main
from handgrad.cli.data import Standardizer
from handgrad.explain import notebook

pytest.importorskip("safetensors")
pytest.importorskip("matplotlib")


def test_outputs_are_checked_before_training(animals, tmp_path, capsys):
    argv = ["train", str(animals), "--target", "species", *QUICK]
    err = one_line_error(capsys, [*argv, "--out", str(tmp_path / "no" / "m.safetensors")])
    assert "--out" in err and "does not exist" in err
    err = one_line_error(capsys, [*argv, "--plot", str(tmp_path)])
    assert "--plot" in err and "is a folder" in err
    err = one_line_error(capsys, [*argv, "--out", str(animals)])
    assert "is the same file as" in err
    same = str(tmp_path / "x.png")
    err = one_line_error(capsys, [*argv, "--plot", same, "--confusion", same])
    assert "--plot and --confusion name the same file" in err


def test_a_binary_classifier_with_bce(tmp_path):
    rng = np.random.default_rng(3)
    X = rng.standard_normal((150, 2))
    rows = [[*x, "yes" if x[0] + x[1] > 0 else "no"] for x in X]
    data = write_csv(tmp_path / "binary.csv", ["u", "v", "answer"], rows)
    model = tmp_path / "b.safetensors"
    argv = ["train", str(data), "--target", "answer", "--loss", "bce", "--out", str(model)]
    assert main([*argv, "--epochs", "30", "--layers", "8", "--verbose", "0"]) == 0
    assert hg.load(model)[-1].n_out == 1
    out = tmp_path / "p.csv"
    assert main(["predict", str(model), str(data), "--probabilities", "--out", str(out)]) == 0
    predictions = read_csv(out)
    assert list(predictions[0]) == ["answer", "p(no)", "p(yes)"]
    for row in predictions:
        p_no, p_yes = float(row["p(no)"]), float(row["p(yes)"])
        assert p_no + p_yes == pytest.approx(1, abs=1e-6)
        assert row["answer"] == ("yes" if p_yes > 0.5 else "no")
    correct = np.mean([row["answer"] == truth[2] for row, truth in zip(predictions, rows)])
    assert correct > 0.9


# Round trip: train, evaluate, predict ------------------------------------------------------------


def test_evaluate_prints_the_loss_and_accuracy_of_the_predictions(animals, animals_model, capsys):
    assert main(["evaluate", str(animals_model), str(animals)]) == 0
    out = capsys.readouterr().out
    figures = dict(zip(out.splitlines()[1].split()[::2], map(float, out.split()[-3::2])))
    assert main(["predict", str(animals_model), str(animals)]) == 0
    predictions = read_csv(capsys.readouterr().out)
    truth = [row["species"] for row in read_csv(animals)]
    accuracy = np.mean([p["species"] == t for p, t in zip(predictions, truth)])
    assert figures["accuracy"] == pytest.approx(accuracy, abs=5e-5)
    assert accuracy > 0.85
    assert 0 < figures["loss"] < 0.5


def test_predict_writes_the_original_string_labels(animals, animals_model, tmp_path, capsys):
    out = tmp_path / "predictions.csv"
    argv = ["predict", str(animals_model), str(animals), "--probabilities", "--out", str(out)]
    assert main(argv) == 0
    assert capsys.readouterr().out == f"wrote 240 predictions to {out}\n"
    rows = read_csv(out)
    assert list(rows[0]) == ["species", "p(bird)", "p(cat)", "p(dog)"]
    assert len(rows) == 240
    for row in rows:
        probs = {c: float(row[f"p({c})"]) for c in ("bird", "cat", "dog")}
        assert sum(probs.values()) == pytest.approx(1, abs=1e-5)
        assert row["species"] == max(probs, key=probs.get)


def test_a_model_saved_without_the_command_line(tmp_path, capsys):
    path = tmp_path / "plain.safetensors"
    hg.Sequential([hg.Dense(3, 2, rng=0)]).save(path, metadata={"note": "mine"})
    assert main(["summary", str(path)]) == 0
    out = capsys.readouterr().out
    assert "Dense(3→2)" in out and '"note": "mine"' in out
    err = one_line_error(capsys, ["evaluate", str(path), "--dataset", "digits"])
    assert "was not written by 'handgrad train'" in err


def test_summary_shows_layers_and_training(digits_model, capsys):
    assert main(["summary", str(digits_model)]) == 0
    out = capsys.readouterr().out
    assert "Dense(64→32)" in out and "total parameters: 2,410" in out
    assert "task: classification into 10 classes" in out
    assert "target: digit; 64 features (pixel_0_0" in out
    assert "layers 32 relu" in out and "8 of 8 epochs" in out


# Trace --------------------------------------------------------------------------------------


def test_trace_of_the_notebook_is_complete(capsys):
    assert main(["trace", "--example", "seed"]) == 0
    out = capsys.readouterr().out
    for figure in ("3.99  3.29  2.59", "5.4552  6.4972", "7.188368", "-6.188368", "19.14794925"):
        assert figure in out
    for gradient in ("dL/dW3", "dL/db3", "dL/dW2", "dL/dW1", "dL/db1"):
        assert gradient in out
    assert "W3 ← W3 − 0.01 · dL/dW3" in out and "[-0.007587851]" in out


def test_trace_without_the_update(capsys):
    assert main(["trace", "--example", "seed", "--no-update"]) == 0
    out = capsys.readouterr().out
    assert "dL/dW1" in out and "← W" not in out


def test_trace_of_several_steps(capsys, tmp_path):
    assert main(["trace", "--example", "seed", "--steps", "3", "--lr", "0.01"]) == 0
    out = capsys.readouterr().out
    losses = hg.trace(*notebook.backprop_network(), hg.MSELoss(), lr=0.01, steps=3).losses
    assert losses[0] == pytest.approx(19.14794925, abs=1e-8) and losses[2] < losses[1] < losses[0]
    shown = ", ".join(format(v, ".6g") for v in losses)
    assert f"steps:  3 consecutive steps, L = {shown}; step 1 shown" in out
    assert out.startswith("The learner's notebook network: 3 training steps\n")
    assert "W3 ← W3 − 0.01 · dL/dW3" in out and "[-0.007587851]" in out  # step 1 in full
    page = tmp_path / "steps.html"
    argv = ["trace", "--example", "seed", "--steps", "4", "--lr", "0.02", "--format", "html"]
    assert main([*argv, "--out", str(page)]) == 0
    html = page.read_text()
    assert 'class="step-slider" min="1" max="4"' in html and html.count('<div class="step"') == 4
    assert "θ ← θ − 0.02 · dL/dθ" in html


def test_trace_of_several_steps_of_a_saved_model(animals_model, capsys):
    argv = ["trace", str(animals_model), "--input", "0.5, 55, 1010", "--target", "cat"]
    assert main([*argv, "--steps", "2"]) == 0
    assert "steps:  2 consecutive steps, L = " in capsys.readouterr().out


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--steps", "0"], "argument --steps: expected an integer >= 1, got '0'"),
        (["--steps", "two"], "argument --steps: expected an integer, got 'two'"),
        (["--steps", "3", "--no-update"], "--steps 3 needs the update"),
        (["--steps", "3", "--lr", "0"], "argument --lr: expected a number > 0, got '0'"),
    ],
)
def test_trace_steps_errors(extra, message, capsys):
    err = one_line_error(capsys, ["trace", "--example", "seed", *extra])
    assert message in err


@pytest.mark.parametrize(("fmt", "start"), [("md", "**"), ("html", "<!DOCTYPE html>")])
def test_trace_formats_to_a_file(fmt, start, tmp_path, capsys):
    out = tmp_path / f"step.{fmt}"
    assert main(["trace", "--example", "seed", "--format", fmt, "--out", str(out)]) == 0
    text = out.read_text()
    assert text.startswith(start) and "19.14794925" in text
    assert capsys.readouterr().out == f"wrote the trace to {out}\n"


def test_trace_of_a_saved_model_standardises_the_input(animals_model, capsys):
    meta = hg.load(animals_model).metadata
    x = np.array([0.5, 55.0, 1010.0])
    expected = (x - np.array(meta["standardize"]["mean"])) / meta["standardize"]["scale"]
    argv = ["trace", str(animals_model), "--input", "0.5, 55, 1010", "--target", "cat"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    a0 = out.split("A0 (1, 3) = [[")[1].split("]]")[0].split()
    np.testing.assert_allclose([float(v) for v in a0], expected, rtol=1e-5)
    assert "Y [class labels] (1,) = [1]" in out  # 'cat' is the model's class 1


def test_trace_takes_a_row_and_its_target_from_a_file(animals, animals_model, capsys):
    assert main(["trace", str(animals_model), "--data", str(animals), "--row", "3"]) == 0
    out = capsys.readouterr().out
    third = read_csv(animals)[2]
    label = ["bird", "cat", "dog"].index(third["species"])
    assert f"Y [class labels] (1,) = [{label}]" in out
    assert "on row 3 of animals.csv" in out


@pytest.mark.parametrize("which", ["wrong", "right"])
def test_trace_picks_a_row_the_classifier_gets_wrong_or_right(digits_model, which, capsys):
    model = hg.load(digits_model)
    meta = model.metadata
    digits = hg.datasets.load_digits()
    mean, scale = np.array(meta["standardize"]["mean"]), np.array(meta["standardize"]["scale"])
    predicted = model.predict((digits.X_test - mean) / scale).argmax(axis=1)
    hits = predicted == digits.y_test
    first = int(np.flatnonzero(~hits if which == "wrong" else hits)[0])
    argv = ["trace", str(digits_model), "--dataset", "digits", "--row", which]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert f"on row {first + 1} of " in out and f"the first the model classifies {which}ly" in out
    verdict = f"target class {digits.y_test[first]}, predicted class {predicted[first]} ({which})"
    assert verdict in out


def test_trace_precision_and_max_entries(digits_model, capsys):
    argv = ["trace", str(digits_model), "--dataset", "digits", "--row", "1"]
    assert main([*argv, "--precision", "3", "--max-entries", "6"]) == 0
    short = capsys.readouterr().out
    assert main(argv) == 0
    full = capsys.readouterr().out
    assert "showing the first and last 3 of each long axis" in short
    logits = full.split("z [= ")[1].split("\n")[1]  # the 10 logits, on one line, whole
    assert "⋯" not in logits and len(logits.split("[[")[1].split()) == 10
    err = one_line_error(capsys, [*argv, "--max-entries", "4"])
    assert "--max-entries must be at least 6" in err
    err = one_line_error(capsys, [*argv[:-1], "worst"])
    assert "expected a row number from 1, 'wrong' or 'right', got 'worst'" in err


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--input", "1,2"], "--input: the model takes 3 features, got 2 numbers"),
        (["--input", "1,a,3", "--target", "cat"], "--input: expected comma-separated numbers"),
        (["--input", "1,2,3", "--target", "fish"], "label 'fish'"),
        (["--input", "1,2,3"], "--target: give the row's class label"),
        ([], "give the row with one of --input NUMBERS"),
    ],
)
def test_trace_input_errors(animals_model, extra, message, capsys):
    err = one_line_error(capsys, ["trace", str(animals_model), *extra])
    assert message in err


def test_trace_row_beyond_the_file(animals, animals_model, capsys):
    err = one_line_error(
        capsys, ["trace", str(animals_model), "--data", str(animals), "--row", "999"]
    )
    assert "--row 999: animals.csv (240 rows) has 240 rows" in err


# Export ------------------------------------------------------------------------------------------


def test_export_takes_raw_features(animals, tmp_path, capsys):
    ort = pytest.importorskip("onnxruntime")
    model = tmp_path / "m64.safetensors"
    argv = ["train", str(animals), "--target", "species", "--ignore", "id", "--dtype", "float64"]
    assert main([*argv, *QUICK, "--out", str(model)]) == 0
    onnx_path = tmp_path / "m.onnx"
    assert main(["export", str(model), "--onnx", str(onnx_path), "--opset", "17"]) == 0
    assert "the standardisation is folded into the first layer" in capsys.readouterr().out
    rows = read_csv(animals)
    X = np.array([[float(r[c]) for c in ("height", "weight", "age")] for r in rows])
    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    (logits,) = session.run(["output"], {"input": X})
    loaded = hg.load(model)
    standardizer = Standardizer.from_json(loaded.metadata["standardize"], 3, "test")
    expected = loaded.predict(standardizer.transform(X, np.float64))
    np.testing.assert_allclose(logits, expected, rtol=1e-9, atol=1e-9)


def test_export_errors(animals_model, tmp_path, capsys):
    argv = ["export", str(animals_model), "--onnx", str(tmp_path / "m.onnx"), "--opset", "99"]
    err = one_line_error(capsys, argv)
    assert "opset must be in [9, 28], got 99" in err
    err = one_line_error(capsys, ["export", str(animals_model), "--onnx", str(animals_model)])
    assert "--onnx" in err and "is the same file as" in err


# The quality benchmark runs these commands --------------------------------------------------------


def test_quality_benchmark_runs_its_commands(tmp_path):
    script = Path(__file__).resolve().parents[2] / "benchmarks" / "quality.py"
    argv = [sys.executable, str(script), "--only", "digits", "--epochs", "2"]
    result = subprocess.run(
        [*argv, "--results", str(tmp_path)], capture_output=True, text=True, timeout=300
    )
    report = json.loads((tmp_path / "quality.json").read_text())
    (digits,) = report["results"]
    assert digits["command"].startswith("handgrad train --dataset digits --layers 128,64")
    assert "--epochs 2 " in digits["command"] and digits["epochs_run"] == 2
    assert report["overrides"] == {"--epochs": "2"}
    assert 0.5 < digits["test_accuracy"] < 1 and digits["goal"] == 0.97
    assert digits["met"] == (digits["test_accuracy"] >= 0.97)
    assert result.returncode == (0 if digits["met"] else 1), result.stderr
    table = (tmp_path / "quality.md").read_text()
    assert f"| digits | {digits['test_accuracy']:.2%} | 97% |" in table
    assert "A quick run, not the benchmark" in table
