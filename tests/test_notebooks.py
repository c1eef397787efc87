"""The notebooks under notebooks/: each runs from start to end in a fresh kernel (nbclient) and
shows what it says, and each is saved with its outputs, so that it reads on a code host without
running."""

from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")  # the test extra installs nbformat and nbclient
nbclient = pytest.importorskip("nbclient")

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
NAMES = ("learner", "write-your-own-backward", "digits", "cnn")


def texts(cell, kind="text/plain") -> list[str]:
    """What a code cell showed: its printed text and the ``kind`` of each display."""
    out = []
    for o in cell.get("outputs", []):
        if o["output_type"] == "stream":
            if kind == "text/plain":
                out.append(o["text"])
        elif o["output_type"] in ("execute_result", "display_data") and kind in o["data"]:
            out.append(o["data"][kind])
    return out


def run(name: str, tmp_path):
    notebook = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    for cell in notebook.cells:
        if cell.cell_type == "code":
            cell.outputs = []
    client = nbclient.NotebookClient(
        notebook, timeout=600, kernel_name="python3", resources={"metadata": {"path": tmp_path}}
    )
    client.execute()
    return [c for c in notebook.cells if c.cell_type == "code"]


@pytest.fixture(scope="module")
def executed(tmp_path_factory):
    folder = tmp_path_factory.mktemp("notebooks")
    return {name: run(name, folder) for name in NAMES}


@pytest.mark.parametrize("name", NAMES)
def test_each_notebook_is_saved_with_its_outputs_and_no_error(executed, name):
    notebook = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    code = [c for c in notebook.cells if c.cell_type == "code"]
    assert [c.source for c in code] == [c.source for c in executed[name]]
    # every cell that shows something when run was saved showing it
    saved = [[o["output_type"] for o in c.outputs] for c in code]
    fresh = [[o["output_type"] for o in c.outputs] for c in executed[name]]
    assert saved == fresh
    assert not [o for c in code for o in c.outputs if o["output_type"] == "error"]
    assert [c.execution_count for c in code] == list(range(1, len(code) + 1))


@pytest.mark.parametrize("name", NAMES)
def test_each_notebook_runs_without_errors_or_stderr(executed, name):
    for cell in executed[name]:
        kinds = {o["output_type"] for o in cell.outputs}
        assert "error" not in kinds, cell.source
        assert not [o for o in cell.outputs if o.get("name") == "stderr"], cell.source


def test_the_learners_notebook_keeps_its_cells_and_completes_them(executed):
    cells = executed["learner"]
    assert "weight = np.random.rand()" in cells[0].source
    assert texts(cells[1]) == ["[[5.6 ]\n [6.89]\n [8.07]]\n"]
    assert "Final output:\n 30.37543" in texts(cells[2])[0]
    assert "Error(Actual-Predicted):  [[-6.188368]]" in texts(cells[3])[0]
    forward = texts(cells[4])[0]
    for line in ("Z1 = [[3.99 3.29 2.59]]", "A2 = [[5.4552 6.4972]]", "A3 = [[7.188368]]",
                 "error = [[-6.188368]]", "loss L = ½(a − p)² = 19.14794925"):  # fmt: skip
        assert line in forward
    gradients = texts(cells[5])[0]
    assert "dL/dW3 =\n[[33.75878511]\n [40.20706457]]" in gradients
    assert "dL/db1 = [1.42951301 1.63372915 3.96179319]" in gradients
    report = texts(cells[6])
    assert (
        report[0].endswith("PASSED")
        and '<div class="hg-gradcheck">' in texts(cells[6], "text/html")[0]
    )
    assert "new W3 =\n[[-0.00758785]\n [ 0.25792935]]" in texts(cells[7])[0]
    trained = texts(cells[8])[0]
    assert trained.startswith("prediction 1.000000 (target 1), loss ")
    assert float(trained.split("loss ")[1]) < 1e-12
    assert texts(cells[9], "image/png")  # the learning curves, inline
    page = texts(cells[10], "text/html")[0]
    assert page.startswith('<div class="hg-trace">') and "19.14794925" in page
    assert "dL/dW3[0, 0] = Σ_i A2[i, 0] · dL/dZ3[i, 0] = 5.4552·6.188368 = 33.75879" in page


def test_write_your_own_backward_grades_and_names_the_usual_mistakes(executed):
    shown = ["\n".join(texts(c)) for c in executed["write-your-own-backward"]]

    def cell(marker):
        return next(s for s in shown if marker in s)

    assert "not written yet: MyDense.backward" in cell("MyDense.backward")
    assert "likely: weight: it is the transpose of the true gradient" in cell("transpose")
    assert "backward must overwrite .grad, not add" in cell("second backward")
    assert "likely: input: it is 15 times the true gradient: the 1/n of the mean is missing" in (
        cell("15 times")
    )
    verdicts = [s.rsplit("\n", 1)[-1] for s in shown if s.startswith("gradcheck")]
    assert verdicts == ["FAILED", "FAILED", "PASSED", "FAILED", "PASSED", "FAILED", "PASSED"]
    last = shown[-1].splitlines()
    assert last[0] == "True"
    first, final = (float(v) for v in last[1].removeprefix("loss ").split(" → "))
    assert final < first / 5


def test_the_digits_notebook_trains_shows_curves_and_traces_a_wrong_and_a_right_image(executed):
    cells = executed["digits"]
    bars = texts(cells[1])[:-1]
    assert len(bars) == 12 and all(
        f"epoch {k + 1}/12 · 41/41 batches" in b for k, b in enumerate(bars)
    )
    assert texts(cells[2], "image/png") and texts(cells[3], "image/png")
    accuracy = float(texts(cells[3])[0].removeprefix("test accuracy "))
    assert accuracy > 0.9
    wrong, right = texts(cells[4])[0], texts(cells[5])[0]
    assert "(wrong); softmax p = [0: " in wrong and "(right); softmax p = [0: " in right
    page = texts(cells[4], "text/html")[0]
    assert "predicted class" in page and page.count('data-k="0,9" tabindex="0"') >= 1


def test_the_cnn_notebook_draws_its_input_and_works_out_a_convolution(executed):
    cells = executed["cnn"]
    assert '<div class="hg-summary">' in texts(cells[0], "text/html")[0]
    accuracy = float(texts(cells[1])[0].split("test accuracy ")[1])
    assert accuracy > 0.8
    lines = texts(cells[2])[0].splitlines()
    assert lines[0] == "Z1[0, 3, 3, 3] = Σ window ⊙ kernel + b1[3]"
    page = texts(cells[2], "text/html")[0]
    # the one image, drawn on its own card and on the two that use it (Z1's and dL/dW1's),
    # each picture ready for a click on an element to light its window's pixels
    assert page.count('<svg class="image"') == 3
    picture = '<figure class="term picture" data-sym="A0" data-sample="0" data-width="8"'
    assert page.count(picture) == 3 and page.count('<rect data-p="7,7"') == 3
