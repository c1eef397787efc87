"""Loss functions: a scalar L(prediction, target) averaged over the batch, and dL/dprediction.

One interface for all:

* ``value = loss.forward(pred, target)`` checks its arguments and returns a Python float;
* ``grad = loss.backward()`` returns dL/dpred for that last call, shape and dtype of ``pred``.

Every loss is a *mean*, so its gradient carries the factor ``1/n``: the learning rate means the
same thing for any batch size. Classification losses take raw scores (logits), not probabilities.
"""

from __future__ import annotations

import math

import numpy as np

from .._validation import as_input_array, check_finite
from .layer import Formula, Worked, index_text, number


class Loss:
    """Base class. A subclass implements ``_check_target``, ``_forward`` and ``backward``; for the
    trace, ``formulas`` and the symbols of its prediction and target, ``trace_symbols``."""

    #: The prediction's and the target's symbols in ``hg.trace``.
    trace_symbols: tuple[str, str] = ("p", "y")

    def forward(self, pred, target) -> float:
        pred, target = self.check(pred, target)
        return self._forward(pred, target)

    __call__ = forward

    def check(self, pred, target) -> tuple[np.ndarray, np.ndarray]:
        """Validate ``pred`` and ``target`` and bring ``target`` to the form ``_forward`` uses."""
        name = type(self).__name__
        pred = as_input_array(pred, f"{name} pred", ndim=2)
        if pred.size == 0:
            raise ValueError(
                f"{name} pred is empty (shape {pred.shape}); it needs at least one row"
            )
        if pred.dtype.kind != "f":
            pred = pred.astype(np.float64)
        return pred, self.check_target(target, pred.shape, pred.dtype)

    def check_target(self, target, pred_shape: tuple[int, ...], dtype) -> np.ndarray:
        """Validate a target for predictions of ``pred_shape`` (the batch size may differ)."""
        name = type(self).__name__
        target = as_input_array(target, f"{name} target", finite=False)
        if target.ndim == 0:
            raise ValueError(f"{name} target must have one row per sample, got a scalar")
        check_finite(target, f"{name} target")
        return self._check_target(target, pred_shape, dtype)

    def _check_target(self, target: np.ndarray, pred_shape, dtype) -> np.ndarray:
        raise NotImplementedError

    def _forward(self, pred: np.ndarray, target: np.ndarray) -> float:
        raise NotImplementedError

    def backward(self) -> np.ndarray:
        raise NotImplementedError

    def formulas(self, pred_shape: tuple[int, ...], target: np.ndarray) -> tuple[Formula, ...]:
        """The loss's formulas for ``hg.trace`` (phase ``"loss"``): its ``"value"`` and its
        ``"grad"``, dL/d(prediction), and an ``"error"`` (target − prediction) where the loss
        speaks of one. ``{p}`` and ``{a}`` stand for the two symbols. Empty when none is known."""
        return ()

    def target_note(self, target: np.ndarray) -> str:
        """What the target is, in a few words, for the trace."""
        return "the target"

    def trace_facts(self, pred: np.ndarray, target: np.ndarray) -> list[tuple[str, str]]:
        """``(name, value)`` rows the trace states at its head (a classifier's classes): none by
        default."""
        return []

    def _cached(self):
        cache = self.__dict__.get("_cache")
        if cache is None:
            raise RuntimeError(f"{type(self).__name__}.backward called before forward")
        return cache

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


def _same_shape_target(name: str, target: np.ndarray, pred_shape, dtype) -> np.ndarray:
    """A target shaped like the predictions; ``(n,)`` is accepted for predictions ``(n, 1)``."""
    if target.ndim == 1 and len(pred_shape) == 2 and pred_shape[1] == 1:
        target = target.reshape(-1, 1)
    if target.ndim != 2 or target.shape[1:] != tuple(pred_shape[1:]):
        raise ValueError(
            f"{name} expected a target of shape (n, {pred_shape[1]}) like the predictions "
            f"{tuple(pred_shape)}, got {target.shape}"
        )
    return target.astype(dtype, copy=False)


def _check_rows(name: str, pred: np.ndarray, target: np.ndarray) -> None:
    if len(target) != len(pred):
        raise ValueError(
            f"{name} got {len(pred)} predictions but {len(target)} targets; they must match"
        )


class MSELoss(Loss):
    """Half the mean squared error, the notebook's ``½(a − p)²``, averaged over all N elements::

        L = 1/(2N) · Σ (p − a)²        dL/dp = (p − a) / N

    The ½ makes the gradient the plain error ``p − a`` (scaled by 1/N). scikit-learn's squared
    loss is the same; PyTorch's ``MSELoss`` omits the ½ and is twice this value.
    """

    trace_symbols = ("p", "a")

    def _check_target(self, target, pred_shape, dtype):
        return _same_shape_target("MSELoss", target, pred_shape, dtype)

    def _forward(self, pred, target):
        _check_rows("MSELoss", pred, target)
        diff = pred - target
        self._cache = diff
        return 0.5 * float(np.vdot(diff, diff)) / diff.size

    def backward(self):
        diff = self._cached()
        return diff / diff.dtype.type(diff.size)

    def formulas(self, pred_shape, target):
        size = math.prod(pred_shape)
        return (
            Formula(
                "loss", "value", f"L = 1/(2N) · Σ ({{p}} − {{a}})², N = {size}",
                "Loss: half the mean squared error, the notebook's ½(a − p)², averaged over the "
                f"N = {size} outputs", ("pred", "target"), _mse_value,
            ),
            Formula(
                "loss", "error", "error = {a} − {p}",
                "Error (actual − predicted), as the notebook prints it: the one number that "
                "the trace computes itself, for reading (the loss works with p − a)",
                ("pred", "target"), _mse_error,
            ),
            Formula(
                "loss", "grad", f"dL/d{{p}} = ({{p}} − {{a}}) / N, N = {size}",
                "Loss w.r.t. output (the loss function's derivative)", ("pred", "target"),
                _mse_grad,
            ),
        )  # fmt: skip

    def target_note(self, target):
        return "the target (actual)"


class CrossEntropyLoss(Loss):
    """Softmax cross-entropy from logits, averaged over the batch.

    For logits ``z`` (n, C) and labels ``y`` — integer class indices (n,), or one-hot / probability
    rows (n, C)::

        L = 1/n · Σ_i ( logsumexp(z_i) − Σ_c y_ic · z_ic )
        dL/dz = (softmax(z) − Y) / n

    ``logsumexp(z) = m + log Σ_c e^(z_c − m)`` with ``m = max_c z_c``, so no exponent overflows.
    """

    trace_symbols = ("z", "Y")

    def _check_target(self, target, pred_shape, dtype):
        n_classes = pred_shape[1]
        if target.ndim == 1:
            if target.dtype.kind == "f" and not np.array_equal(target, np.round(target)):
                raise ValueError(
                    "CrossEntropyLoss target: class labels must be integers, got "
                    f"non-integer values such as {target[target != np.round(target)][0]}"
                )
            labels = target.astype(np.intp, copy=False)
            if labels.size and (labels.min() < 0 or labels.max() >= n_classes):
                bad = labels[(labels < 0) | (labels >= n_classes)][0]
                raise ValueError(
                    f"CrossEntropyLoss target: labels must be in [0, {n_classes}) for "
                    f"{n_classes} logits per row, got {bad}"
                )
            return labels
        if target.ndim == 2 and target.shape[1] == n_classes:
            probs = target.astype(dtype, copy=False)
            row_sums = probs.sum(axis=1)
            if probs.size and (probs.min() < 0 or not np.allclose(row_sums, 1, atol=1e-4)):
                raise ValueError(
                    "CrossEntropyLoss target: one-hot or probability rows must be >= 0 and sum "
                    f"to 1, got a row summing to {row_sums[np.argmax(np.abs(row_sums - 1))]}"
                )
            return probs
        raise ValueError(
            f"CrossEntropyLoss expected a target of integer labels (n,) or one-hot rows "
            f"(n, {n_classes}), got shape {target.shape}"
        )

    def _forward(self, pred, target):
        _check_rows("CrossEntropyLoss", pred, target)
        n = len(pred)
        shifted = pred - np.maximum.reduce(pred, axis=1, keepdims=True)
        # L_i = log Σ_c e^(z_ic − m_i) − Σ_c y_ic (z_ic − m_i), with Σ_c y_ic = 1 for labels
        if target.ndim == 1:
            picked = float(shifted[self._rows(n), target].sum())
        else:
            picked = float(np.vdot(target, shifted))
        e = np.exp(shifted, out=shifted)
        s = np.add.reduce(e, axis=1, keepdims=True)
        log_s = np.log(s)
        if target.ndim == 1:
            value = (float(log_s.sum()) - picked) / n
        else:
            value = (float(np.vdot(target.sum(axis=1), log_s)) - picked) / n
        e /= s  # softmax, kept for backward
        self._cache = (e, target)
        return value

    def backward(self):
        probs, target = self._cached()
        n = len(probs)
        # The softmax and the log in the loss cancel in the chain rule: dL/dz = (softmax − Y)/n.
        # This fused form is exact and never divides by a probability that underflowed to 0.
        scale = probs.dtype.type(1 / n)
        grad = probs * scale
        if target.ndim == 1:
            grad[self._rows(n), target] -= scale
        else:
            grad -= target * scale
        return grad

    def formulas(self, pred_shape, target):
        n = pred_shape[0]
        return (
            Formula(
                "loss", "value", f"L = 1/n · Σ_i (logsumexp(z_i) − Σ_c Y_ic · z_ic), n = {n}",
                "Loss: softmax cross-entropy of the logits z, averaged over the samples",
                ("pred", "target"), _cross_entropy_value,
            ),
            Formula(
                "loss", "grad", f"dL/dz = (softmax(z) − Y) / n, n = {n}",
                "Loss w.r.t. the logits z. Fused: the loss applies softmax itself, and the "
                "derivatives of its log and of softmax cancel to softmax(z) − Y, so no softmax "
                "Jacobian is needed", ("pred", "target"), _cross_entropy_grad,
            ),
        )  # fmt: skip

    def target_note(self, target):
        return "class labels" if target.ndim == 1 else "one-hot or probability rows"

    def trace_facts(self, pred, target):
        """Per sample (the first 4): the target class, the predicted class (the largest logit),
        right or wrong, and the softmax probabilities."""
        probs = _softmax_rows(pred)
        rows = []
        for i in range(min(len(pred), 4)):
            want = int(target[i]) if target.ndim == 1 else int(np.argmax(target[i]))
            got = int(np.argmax(pred[i]))
            verdict = "right" if got == want else "wrong"
            shown = ", ".join(f"{c}: {p:.3f}" for c, p in enumerate(probs[i]))
            rows.append(
                (
                    f"sample {i}",
                    f"target class {want}, predicted class {got} ({verdict}); "
                    f"softmax p = [{shown}]",
                )
            )
        return rows

    def _rows(self, n: int) -> np.ndarray:
        """``arange(n)``, kept between calls: it indexes the target class of each row."""
        rows = self.__dict__.get("_arange")
        if rows is None or len(rows) < n:
            rows = self._arange = np.arange(max(n, 1))
        return rows[:n]


class BCEWithLogitsLoss(Loss):
    """Binary cross-entropy from logits, averaged over all N elements.

    For logits ``z`` and targets ``y ∈ [0, 1]`` of the same shape::

        L = 1/N · Σ ( max(z, 0) − z·y + log(1 + e^(−|z|)) )
        dL/dz = (σ(z) − y) / N

    which is ``−y log σ(z) − (1 − y) log(1 − σ(z))`` rewritten so that nothing overflows.
    """

    trace_symbols = ("z", "y")

    def _check_target(self, target, pred_shape, dtype):
        target = _same_shape_target("BCEWithLogitsLoss", target, pred_shape, dtype)
        if target.size and (target.min() < 0 or target.max() > 1):
            raise ValueError(
                "BCEWithLogitsLoss target must be in [0, 1], got values from "
                f"{target.min()} to {target.max()}"
            )
        return target

    def _forward(self, pred, target):
        _check_rows("BCEWithLogitsLoss", pred, target)
        e = np.exp(-np.abs(pred))
        value = np.maximum(pred, 0) - pred * target + np.log1p(e)
        self._cache = (pred, e, target)
        return float(np.sum(value)) / pred.size

    def backward(self):
        pred, e, target = self._cached()
        sig = np.where(pred >= 0, 1 / (1 + e), e / (1 + e))
        return ((sig - target) / pred.size).astype(pred.dtype, copy=False)

    def formulas(self, pred_shape, target):
        size = math.prod(pred_shape)
        return (
            Formula(
                "loss", "value", f"L = 1/N · Σ (max(z, 0) − z·y + log(1 + e^(−|z|))), N = {size}",
                "Loss: binary cross-entropy of the logits z, −y log σ(z) − (1 − y) log(1 − σ(z)) "
                "written so that nothing overflows, averaged over the N outputs",
                ("pred", "target"), _bce_value,
            ),
            Formula(
                "loss", "grad", f"dL/dz = (σ(z) − y) / N, N = {size}",
                "Loss w.r.t. the logits z. Fused: the loss applies the sigmoid itself, and the "
                "derivatives of its logs and of σ cancel to σ(z) − y", ("pred", "target"),
                _bce_grad,
            ),
        )  # fmt: skip

    def target_note(self, target):
        return "the targets, in [0, 1]"


# One element of a loss worked out (Formula.element): the values are "pred" and "target" -------


def _n(v: float) -> str:
    text = number(v)
    return f"({text})" if text.startswith("-") else text


def _listed(terms: list[str], limit: int = 6) -> str:
    if len(terms) > limit:
        terms = [*terms[:3], f"… ({len(terms)} terms in all) …", *terms[-3:]]
    return " + ".join(terms)


def _mse_value(values, index) -> Worked:
    p = values["pred"].astype(np.float64).reshape(-1)
    a = values["target"].astype(np.float64).reshape(-1)
    d = p - a
    value = 0.5 * float(np.dot(d, d)) / d.size
    squares = [f"({number(pi)} − {_n(ai)})²" for pi, ai in zip(p, a)]
    return Worked(
        index=(),
        lines=(
            f"L = 1/(2·{d.size}) · ({_listed(squares)})",
            f"= 1/{2 * d.size} · {number(float(np.dot(d, d)))} = {number(value)}",
        ),
        value=value,
    )


def _mse_error(values, index) -> Worked:
    p, a = values["pred"], values["target"]
    index = tuple(int(i) for i in index)
    value = float(a[index]) - float(p[index])
    at = index_text(index)
    return Worked(
        index=index,
        lines=(
            f"error{at} = {{a}}{at} − {{p}}{at} = {number(a[index])} − {_n(p[index])} = "
            f"{number(value)}",
        ),
        value=value,
        cells=(("target", index), ("pred", index)),
    )


def _mse_grad(values, index) -> Worked:
    p, a = values["pred"], values["target"]
    index = tuple(int(i) for i in index)
    n = p.size
    value = (float(p[index]) - float(a[index])) / n
    at = index_text(index)
    return Worked(
        index=index,
        lines=(
            f"dL/d{{p}}{at} = ({{p}}{at} − {{a}}{at}) / {n} = ({number(p[index])} − "
            f"{_n(a[index])}) / {n} = {number(value)}",
        ),
        value=value,
        cells=(("pred", index), ("target", index)),
    )


def _softmax_rows(z: np.ndarray) -> np.ndarray:
    z = np.asarray(z, dtype=np.float64)
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _target_rows(target: np.ndarray, shape) -> np.ndarray:
    """The target as rows of probabilities: labels one-hot."""
    if target.ndim == 1:
        rows = np.zeros(shape)
        rows[np.arange(len(target)), target.astype(int)] = 1.0
        return rows
    return np.asarray(target, dtype=np.float64)


def _cross_entropy_value(values, index) -> Worked:
    z = values["pred"].astype(np.float64)
    Y = _target_rows(values["target"], z.shape)
    m = z.max(axis=1, keepdims=True)
    lse = (m + np.log(np.exp(z - m).sum(axis=1, keepdims=True)))[:, 0]
    per = lse - (Y * z).sum(axis=1)
    value = float(per.mean())
    lines = [f"L = 1/{len(z)} · Σ_i (logsumexp(z_i) − Σ_c Y_ic · z_ic)"]
    for i in range(min(len(z), 3)):
        lines.append(
            f"sample {i}: logsumexp(z_{i}) = {number(lse[i])}, Σ_c Y_{i}c · z_{i}c = "
            f"{number((Y[i] * z[i]).sum())}, so {number(per[i])}"
        )
    lines.append(f"= 1/{len(z)} · ({_listed([number(v) for v in per])}) = {number(value)}")
    return Worked(index=(), lines=tuple(lines), value=value)


def _cross_entropy_grad(values, index) -> Worked:
    z = values["pred"]
    i, j = (int(k) for k in index)
    probs = _softmax_rows(z[i : i + 1])[0]
    Y = _target_rows(values["target"][i : i + 1], (1, z.shape[1]))[0]
    n = len(z)
    value = (probs[j] - Y[j]) / n
    target_cell = ("target", (i,)) if values["target"].ndim == 1 else ("target", (i, j))
    return Worked(
        index=(i, j),
        lines=(
            f"dL/dz[{i}, {j}] = (softmax(z_{i})[{j}] − Y[{i}, {j}]) / {n}, "
            f"softmax(z_{i})[{j}] = e^z[{i}, {j}] / Σ_c e^z[{i}, c]",
            f"= ({number(probs[j])} − {number(Y[j])}) / {n} = {number(value)}",
        ),
        value=float(value),
        cells=(("pred", (i, slice(None))), target_cell),
    )


def _bce_value(values, index) -> Worked:
    z = values["pred"].astype(np.float64).reshape(-1)
    y = values["target"].astype(np.float64).reshape(-1)
    per = np.maximum(z, 0) - z * y + np.log1p(np.exp(-np.abs(z)))
    value = float(per.mean())
    return Worked(
        index=(),
        lines=(
            f"L = 1/{z.size} · Σ (max(z, 0) − z·y + log(1 + e^(−|z|)))",
            f"= 1/{z.size} · ({_listed([number(v) for v in per])}) = {number(value)}",
        ),
        value=value,
    )


def _bce_grad(values, index) -> Worked:
    z, y = values["pred"], values["target"]
    index = tuple(int(i) for i in index)
    zi = float(z[index])
    s = 1 / (1 + math.exp(-zi)) if zi >= 0 else math.exp(zi) / (1 + math.exp(zi))
    value = (s - float(y[index])) / z.size
    at = index_text(index)
    return Worked(
        index=index,
        lines=(
            f"dL/dz{at} = (σ(z{at}) − y{at}) / {z.size} = ({number(s)} − {number(y[index])}) / "
            f"{z.size} = {number(value)}",
        ),
        value=float(value),
        cells=(("pred", index), ("target", index)),
    )
