"""Check a layer's hand-written ``backward`` against central finite differences.

For a scalar objective L (a loss, or ``L = Σ y ⊙ R`` with a fixed random R when no loss is given,
so that ``dL/dy = R``), each checked element θ of a parameter or of the input gets::

    numeric  = (L(θ + ε) − L(θ − ε)) / 2ε          error O(ε²) + rounding O(u·|L|/ε)
    analytic = what backward wrote into .grad (or returned, for the input)

and each tensor gets ``relative error = max |analytic − numeric| / max(|analytic|, |numeric|)``,
the largest disagreement measured against the tensor's largest gradient. In float64 with
ε = 1e-6 a correct backward gives about 1e-9 or less; a wrong one gives something near 1.

The layer's state arrays (batch norm's running statistics, which every training-mode forward
moves) are given back the values they had: checking a layer does not change what it computes in
evaluation mode.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import _html
from .._validation import as_input_array, check_int, check_positive, describe
from ..nn.layer import Layer
from ..nn.losses import Loss


@dataclass(frozen=True)
class GradcheckEntry:
    """The comparison for one tensor (a parameter or the input)."""

    name: str
    shape: tuple[int, ...]
    checked: int
    max_abs_error: float
    max_rel_error: float
    passed: bool
    #: For a failed tensor, the usual mistake its numbers match, if any (see :func:`mistake`).
    hint: str = ""


@dataclass(frozen=True)
class GradcheckReport:
    """What ``gradcheck`` found. ``bool(report)`` is ``report.passed``."""

    entries: tuple[GradcheckEntry, ...]
    loss_value: float
    eps: float
    rtol: float
    atol: float
    problems: tuple[str, ...] = ()

    @property
    def passed(self) -> bool:
        return not self.problems and all(e.passed for e in self.entries)

    @property
    def hints(self) -> tuple[str, ...]:
        """The usual mistakes the failed tensors' numbers match, one sentence each."""
        return tuple(f"{e.name}: {e.hint}" for e in self.entries if e.hint)

    @property
    def max_rel_error(self) -> float:
        return max((e.max_rel_error for e in self.entries), default=0.0)

    def __bool__(self) -> bool:
        return self.passed

    def __getitem__(self, name: str) -> GradcheckEntry:
        for entry in self.entries:
            if entry.name == name:
                return entry
        raise KeyError(f"no entry {name!r}; entries are {[e.name for e in self.entries]}")

    def _rows(self) -> list[tuple[str, str, str, str, str, str]]:
        return [
            (
                e.name,
                str(e.shape),
                str(e.checked),
                f"{e.max_abs_error:.2e}",
                f"{e.max_rel_error:.2e}",
                "yes" if e.passed else "NO",
            )
            for e in self.entries
        ]

    _HEAD = ("tensor", "shape", "checked", "max abs err", "max rel err", "ok")

    def _repr_html_(self) -> str:
        """The table, its problems and the verdict, for a notebook."""
        verdict = '<p class="hg-good">PASSED</p>' if self.passed else '<p class="hg-bad">FAILED</p>'
        body = (
            f'<p class="hg-title">gradcheck: L = {self.loss_value:.6g}, eps = {self.eps:g}, '
            f"rtol = {self.rtol:g}</p>"
            + _html.table(
                self._HEAD,
                self._rows(),
                numeric=(2, 3, 4),
                row_classes=["" if e.passed else "hg-bad" for e in self.entries],
            )
            + "".join(f'<p class="hg-bad">problem: {_html.esc(p)}</p>' for p in self.problems)
            + "".join(f'<p class="hg-bad">likely: {_html.esc(h)}</p>' for h in self.hints)
            + verdict
        )
        return _html.fragment("hg-gradcheck", body)

    def _repr_markdown_(self) -> str:
        lines = [
            f"**gradcheck**: L = {self.loss_value:.6g}, eps = {self.eps:g}, rtol = {self.rtol:g}",
            "",
            _html.md_table(self._HEAD, self._rows()),
            "",
        ]
        lines += [f"- problem: {_html.md_cell(p)}" for p in self.problems]
        lines += [f"- likely: {_html.md_cell(h)}" for h in self.hints]
        lines.append("**PASSED**" if self.passed else "**FAILED**")
        return "\n".join(lines) + "\n"

    def __repr__(self) -> str:
        return str(self)

    def __str__(self) -> str:
        head = (
            f"{'tensor':<16}{'shape':<14}{'checked':>8}{'max abs err':>13}{'max rel err':>13}  ok"
        )
        lines = [f"gradcheck: L = {self.loss_value:.6g}, eps = {self.eps:g}, rtol = {self.rtol:g}"]
        lines += [head, "-" * len(head)]
        for e in self.entries:
            mark = "yes" if e.passed else "NO"
            lines.append(
                f"{e.name:<16}{e.shape!s:<14}{e.checked:>8}{e.max_abs_error:>13.2e}"
                f"{e.max_rel_error:>13.2e}  {mark}"
            )
        lines.extend(f"problem: {p}" for p in self.problems)
        lines.extend(f"likely: {h}" for h in self.hints)
        lines.append("PASSED" if self.passed else "FAILED")
        return "\n".join(lines)


def gradcheck(
    layer: Layer,
    x,
    loss: Loss | None = None,
    target=None,
    eps: float = 1e-6,
    *,
    rtol: float = 1e-6,
    atol: float = 1e-9,
    max_checks: int | None = 2000,
    seed: int = 0,
) -> GradcheckReport:
    """Compare ``layer.backward`` (one layer or a whole ``Sequential``) with finite differences.

    Parameters
    ----------
    layer : Layer
        Its parameters must be float64: in float32 a finite difference loses most of its digits.
    x : array (batch, …)
        Input at which the gradients are checked (converted to float64): rows of features, or
        images ``(batch, height, width, channels)``, as the layer takes.
    loss, target : Loss and its target, optional
        The objective; without them it is ``Σ y ⊙ R`` with a fixed random ``R``.
    eps : float
        The finite-difference step ε.
    rtol, atol : float
        A tensor passes when its relative error is at most ``rtol`` or its absolute error at most
        ``atol`` (the latter for gradients that are zero up to rounding).
    max_checks : int or None
        At most this many elements per tensor, drawn at random (seeded by ``seed``); ``None`` checks
        every element.

    Returns
    -------
    GradcheckReport
        One entry per parameter (named as in ``named_parameters()``) and one for the input, and
        the problems found beyond the numbers (e.g. a ``backward`` that adds to ``.grad``).
    """
    if not isinstance(layer, Layer):
        raise TypeError(f"layer must be a Layer (or Sequential), got {describe(layer)}")
    eps = check_positive(eps, "eps")
    rtol = check_positive(rtol, "rtol")
    atol = check_positive(atol, "atol")
    if max_checks is not None:
        max_checks = check_int(max_checks, "max_checks", minimum=1)
    x = np.array(as_input_array(x, "x"), dtype=np.float64)
    named = list(layer.named_parameters())
    for name, p in named:
        if p.data.dtype != np.float64:
            raise ValueError(
                f"gradcheck needs float64 parameters, but {name} is {p.data.dtype}; build the "
                "layer "
                "with dtype=np.float64 (finite differences in float32 keep only ~3 digits)"
            )
    if (loss is None) != (target is None):
        raise ValueError("give loss and target together, or neither")
    if loss is not None and not isinstance(loss, Loss):
        raise TypeError(f"loss must be a Loss, got {describe(loss)}")

    saved_state = [(s, s.data.copy()) for _, s in layer.named_state()]
    try:
        return _check(layer, x, loss, target, named, eps, rtol, atol, max_checks, seed)
    finally:
        for s, values in saved_state:
            s.data[...] = values


def _check(layer, x, loss, target, named, eps, rtol, atol, max_checks, seed) -> GradcheckReport:
    rng = np.random.default_rng(seed)
    y = layer.forward(x)
    if not isinstance(y, np.ndarray):
        raise TypeError(f"{layer!r}.forward must return an ndarray, got {describe(y)}")
    weights = None if loss is not None else rng.standard_normal(y.shape)

    def objective() -> float:
        out = layer.forward(x)
        if loss is not None:
            return loss.forward(out, target)
        return float(np.sum(out * weights))

    value = objective()
    grad_y = loss.backward() if loss is not None else weights
    grad_x = layer.backward(grad_y)
    problems: list[str] = []
    if not isinstance(grad_x, np.ndarray) or grad_x.shape != x.shape:
        problems.append(
            f"backward returned {describe(grad_x)}, "
            f"expected an array of the input's shape {x.shape}"
        )
        grad_x = None
    analytic = {name: p.grad.copy() for name, p in named}
    # A second backward must give the same gradients: a backward that adds to .grad instead of
    # overwriting it would double them here.
    layer.forward(x)
    layer.backward(grad_y)
    for name, p in named:
        if not np.allclose(p.grad, analytic[name], rtol=1e-12, atol=0):
            problems.append(
                f"{name}.grad changed on a second backward: backward must overwrite .grad, not add"
            )

    entries = []
    for name, p in named:
        if analytic[name].shape != p.data.shape:
            problems.append(
                f"{name}.grad has shape {analytic[name].shape}, the parameter {p.data.shape}: "
                "a gradient has its parameter's shape (a transposed product, e.g. dZᵀ · X for "
                "Xᵀ · dZ, gives the wrong one)"
            )
            continue
        entries.append(
            _compare(name, p.data, analytic[name], objective, eps, rtol, atol, max_checks, rng)
        )
    if grad_x is not None:
        entries.append(_compare("input", x, grad_x, objective, eps, rtol, atol, max_checks, rng))

    # Leave the layer as a normal forward/backward at x would.
    layer.forward(x)
    layer.backward(grad_y)
    return GradcheckReport(tuple(entries), value, eps, rtol, atol, tuple(problems))


def _compare(name, array, analytic, objective, eps, rtol, atol, max_checks, rng) -> GradcheckEntry:
    flat = array.reshape(-1)  # a view, so that writing to it perturbs the real array
    if array.size and not np.shares_memory(flat, array):
        raise ValueError(f"gradcheck needs {name} to be a contiguous array, so it can perturb it")
    n = flat.size
    if max_checks is None or n <= max_checks:
        chosen = np.arange(n)
    else:
        chosen = np.sort(rng.choice(n, size=max_checks, replace=False))
    numeric = np.empty(len(chosen))
    for k, i in enumerate(chosen):
        original = flat[i]
        flat[i] = original + eps
        plus = objective()
        flat[i] = original - eps
        minus = objective()
        flat[i] = original
        numeric[k] = (plus - minus) / (2 * eps)
    exact = analytic.reshape(-1)[chosen]
    abs_err = float(np.max(np.abs(exact - numeric), initial=0.0))
    scale = float(max(np.max(np.abs(exact), initial=0.0), np.max(np.abs(numeric), initial=0.0)))
    rel_err = abs_err / scale if scale > 0 else 0.0
    passed = bool(rel_err <= rtol or abs_err <= atol)
    hint = ""
    if not passed and len(chosen) == n:
        hint = mistake(analytic, numeric.reshape(array.shape), rtol)
    return GradcheckEntry(name, tuple(array.shape), len(chosen), abs_err, rel_err, passed, hint)


def mistake(analytic: np.ndarray, numeric: np.ndarray, rtol: float = 1e-6) -> str:
    """The usual mistake that turns the true gradient ``numeric`` into ``analytic``, or ``""``.

    Each is recognised by its numbers: the transpose of the true gradient (a square weight
    matrix multiplied the wrong way round), its negative (a sign), twice it (a backward that
    adds into ``.grad`` run twice, or a factor 2 of ``½x²`` forgotten the other way), a whole
    multiple k of it (the mean's 1/n missing: k is the batch size), or a fraction 1/k of it
    (divided by n once too often).
    """

    def close(a, b) -> bool:
        scale = max(float(np.max(np.abs(b), initial=0.0)), 1e-300)
        return float(np.max(np.abs(a - b), initial=0.0)) <= max(rtol, 1e-6) * scale * 10

    if not np.any(numeric) or analytic.shape != numeric.shape:
        return ""
    if analytic.ndim == 2 and analytic.shape[0] == analytic.shape[1] and close(analytic.T, numeric):
        return "it is the transpose of the true gradient: the product is the wrong way round"
    if close(-analytic, numeric):
        return "it is the true gradient with the wrong sign"
    big = np.argmax(np.abs(numeric))
    ratio = float(analytic.reshape(-1)[big] / numeric.reshape(-1)[big])
    k = round(ratio)
    if k >= 2 and close(analytic, k * numeric):
        if k == 2:
            return (
                "it is twice the true gradient: added into .grad instead of overwriting it, "
                "or a factor 2 too many"
            )
        return f"it is {k} times the true gradient: the 1/n of the mean is missing (n = {k}?)"
    if ratio and (k := round(1 / ratio)) >= 2 and close(analytic * k, numeric):
        return f"it is 1/{k} of the true gradient: divided by n = {k} once too often?"
    return ""
