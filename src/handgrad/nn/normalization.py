"""Normalisation layers: ``BatchNorm`` (each feature over the batch) and ``LayerNorm`` (each
sample over its features), each with a learned scale γ and shift β.

Means and variances are computed in two passes, the mean first and then the mean of the squared
deviations: ``E[x²] − μ²`` loses every digit in float32 for data far from 0 (6e-2 instead of 1e-4
for N(1000, 0.01²)).
"""

from __future__ import annotations

import math
import numbers
from typing import Any, ClassVar

import numpy as np

from .._validation import (
    as_numeric_array,
    check_float_dtype,
    check_in_range,
    check_int,
    check_positive,
    describe,
)
from .layer import Formula, Layer, Worked, index_text, number, register_layer, sum_of_products
from .parameter import Parameter, State

__all__ = ["BatchNorm", "LayerNorm"]


def _input(layer: Layer, x, dtype: np.dtype) -> np.ndarray:
    if not (type(x) is np.ndarray and x.dtype == dtype):
        x = as_numeric_array(x, f"{layer!r} input").astype(dtype, copy=False)
    return x


@register_layer
class BatchNorm(Layer):
    """Batch normalisation of each feature, the last axis, over every other axis: it follows a
    ``Dense`` (``(batch, features)``) and a ``Conv2D`` (``(batch, height, width, channels)``,
    per channel over the batch and the positions) alike.

    Training, for each feature over its ``m`` values (``m`` = batch · positions)::

        μ = (1/m) Σ x          σ² = (1/m) Σ (x − μ)²         s = √(σ² + ε)
        x̂ = (x − μ) / s        y = γ ⊙ x̂ + β

    and the running statistics follow PyTorch's rule ``r ← (1 − momentum)·r + momentum·batch``,
    with the *unbiased* variance ``σ²·m/(m − 1)`` in ``running_var``. A training batch with one
    value per feature (``m = 1``) is an error, as in PyTorch: its variance is 0.

    Evaluation: the running statistics in place of the batch's, a fixed affine map,
    ``y = γ ⊙ (x − running_mean) / √(running_var + ε) + β``.

    Backward in training, with ``dy`` the gradient of each value (every sum over the ``m``
    values of a feature; shapes ``(features,)`` for dγ, dβ, that of x for dx)::

        dβ = Σ dy         dγ = Σ dy ⊙ x̂
        dx = (γ / s) ⊙ (dy − mean(dy) − x̂ ⊙ mean(dy ⊙ x̂))

    the last from the chain rule through μ and σ², both functions of every x: dx̂ = γ ⊙ dy;
    dσ² = Σ dx̂ ⊙ (x − μ) · (−½) s⁻³; dμ = −Σ dx̂ / s; dx = dx̂ / s + dσ² · 2(x − μ)/m + dμ/m, which
    simplifies to the line above. In evaluation mode dx = dy ⊙ γ / √(running_var + ε).

    ``.weight`` is γ (starts at 1), ``.bias`` β (starts at 0); ``running_mean`` (0) and
    ``running_var`` (1) are :class:`~handgrad.nn.parameter.State`: no optimizer touches them,
    model files and checkpoints carry them, ``gradcheck`` and ``trace`` leave them as they were.

    The batch is the whole batch of a distributed step too: its sums over the rows (Σx,
    Σ(x − μ)², and Σdy, Σdy ⊙ x̂ in backward) go through ``batch_sums``, which distributed
    training sets for the length of a ``fit`` to add up every rank's, so every rank normalises
    with the statistics of the global batch, as one process would (see docs/distributed.md).
    """

    #: Whether the layer sums over the batch in training: distributed training then gives it
    #: ``batch_sums`` and calls ``forward_without_rows`` / ``backward_without_rows`` on a rank
    #: that holds no row of a step.
    sums_over_batch: ClassVar[bool] = True
    #: ``None`` in one process; in distributed training an object whose ``values(a)`` returns
    #: the sum of ``a`` over the ranks and ``gradients(a)`` the sum of gradient sums, in this
    #: rank's scale.
    batch_sums: Any = None

    _transient = ("_cache",)
    trace_letter = "Y"
    trace_symbols: ClassVar[dict[str, str]] = {
        "weight": "γ",
        "bias": "β",
        "running_mean": "μ_run",
        "running_var": "σ²_run",
    }

    def __init__(
        self,
        num_features: int,
        *,
        eps: float = 1e-5,
        momentum: float = 0.1,
        dtype=np.float64,
    ):
        self.num_features = check_int(num_features, "num_features", minimum=1)
        self.eps = check_positive(eps, "eps")
        self.momentum = check_in_range(momentum, "momentum", 0, 1, closed_high=True)
        dt = check_float_dtype(dtype)
        self.weight = Parameter(np.ones(self.num_features), dtype=dt)
        self.bias = Parameter(np.zeros(self.num_features), dtype=dt)
        self.running_mean = State(np.zeros(self.num_features), dtype=dt)
        self.running_var = State(np.ones(self.num_features), dtype=dt)
        self._cache = None

    def _rows(self, x) -> np.ndarray:
        x = _input(self, x, self.weight.data.dtype)
        if x.ndim < 2 or x.shape[-1] != self.num_features:
            raise ValueError(
                f"{self!r} expected input (batch, …, {self.num_features}) with its "
                f"{self.num_features} features on the last axis, got shape {x.shape}"
            )
        return x.reshape(-1, self.num_features)

    def forward(self, x: np.ndarray) -> np.ndarray:
        x2 = self._rows(x)
        shape = np.shape(x)
        m = x2.shape[0]
        gamma, beta = self.weight.data, self.bias.data
        dtype = x2.dtype
        if not self.training:
            s = np.sqrt(self.running_var.data + dtype.type(self.eps))
            scale = gamma / s
            y = x2 * scale
            y += beta - self.running_mean.data * scale
            self._cache = (False, x2, shape, s, m)
            return y.reshape(shape)
        # Column sums as a matrix-vector product with ones: much faster than x.sum(axis=0).
        ones = self._scratch("ones", (m,), dtype, fill=1)
        sums = self.batch_sums
        if sums is None:
            self._check_count(m, shape)
            mu = np.dot(ones, x2) / dtype.type(m)
            xc = x2 - mu
            var = np.dot(ones, np.square(xc, out=self._scratch("square", xc.shape, dtype)))
            var /= dtype.type(m)
        else:  # the statistics of the global batch, every rank's rows summed
            m, mu = self._global_mean(np.dot(ones, x2), m, shape)
            mu = mu.astype(dtype)
            xc = x2 - mu
            local = np.dot(ones, np.square(xc, out=self._scratch("square", xc.shape, dtype)))
            var = (sums.values(local) / m).astype(dtype)
        s = np.sqrt(var + dtype.type(self.eps))
        xc /= s  # x̂, in the array that held x − μ
        y = xc * gamma
        y += beta
        self._update_running(mu, var, m)
        self._cache = (True, xc, shape, s, m)
        return y.reshape(shape)

    def _check_count(self, m, shape) -> None:
        if m < 2:
            raise ValueError(
                f"{self!r} needs more than one value per feature in training mode (it normalises "
                f"each feature over the batch), got input of shape {shape}"
            )

    def _global_mean(self, local_sum: np.ndarray, m: int, shape) -> tuple[int, np.ndarray]:
        """``(M, μ)`` of the global batch, from this rank's column sums over its ``m`` values."""
        total = self.batch_sums.values(np.append(local_sum.astype(np.float64), m))
        M = round(total[-1])
        self._check_count(M, shape if m == M else f"{shape} on this rank, {M} values in all")
        return M, total[:-1] / M

    def _update_running(self, mu, var, m: int) -> None:
        dtype = self.running_mean.data.dtype
        r = dtype.type(self.momentum)
        self.running_mean.data *= 1 - r
        self.running_mean.data += r * mu
        self.running_var.data *= 1 - r
        self.running_var.data += r * var * dtype.type(m / (m - 1))

    def forward_without_rows(self) -> None:
        """A distributed step in which this rank holds no row: take part in the global batch's
        sums with zeros, and move the running statistics as every rank does."""
        if not self.training or self.batch_sums is None:
            return
        n = self.num_features
        M, mu = self._global_mean(np.zeros(n), 0, (0, n))
        var = self.batch_sums.values(np.zeros(n)) / M
        dtype = self.running_mean.data.dtype
        self._update_running(mu.astype(dtype), var.astype(dtype), M)

    def backward_without_rows(self) -> None:
        """The backward part of :meth:`forward_without_rows`: zeros into the gradient sums."""
        if self.training and self.batch_sums is not None:
            self.batch_sums.gradients(np.zeros(2 * self.num_features))

    def backward(self, grad_out: np.ndarray) -> np.ndarray:
        training, kept, shape, s, M = self._cached("_cache")
        dtype = kept.dtype
        dy = self._check_grad_out(grad_out, shape, dtype).reshape(-1, self.num_features)
        m = dy.shape[0]
        ones = self._scratch("ones", (m,), dtype, fill=1)
        gamma = self.weight.data
        np.dot(ones, dy, out=self.bias.grad)  # dβ = Σ dy
        if not training:
            xhat = (kept - self.running_mean.data) / s
            np.dot(ones, dy * xhat, out=self.weight.grad)  # dγ = Σ dy ⊙ x̂
            return (dy * (gamma / s)).reshape(shape)
        xhat = kept
        np.dot(ones, dy * xhat, out=self.weight.grad)  # dγ = Σ dy ⊙ x̂
        sum_dy, sum_dyx = self.bias.grad, self.weight.grad
        if self.batch_sums is not None:  # the means are over the global batch
            both = self.batch_sums.gradients(np.concatenate([sum_dy, sum_dyx]).astype(np.float64))
            sum_dy, sum_dyx = both[: len(sum_dy)].astype(dtype), both[len(sum_dy) :].astype(dtype)
        # dx = (γ/s) ⊙ (dy − mean(dy) − x̂ ⊙ mean(dy ⊙ x̂)), the means being dβ/m and dγ/m
        dx = xhat * (sum_dyx / dtype.type(M))
        dx += sum_dy / dtype.type(M)
        np.subtract(dy, dx, out=dx)
        dx *= gamma / s
        return dx.reshape(shape)

    def get_config(self) -> dict[str, Any]:
        return {
            "num_features": self.num_features,
            "eps": self.eps,
            "momentum": self.momentum,
            "dtype": str(self.weight.data.dtype),
        }

    @classmethod
    def parameter_count(cls, config: dict[str, Any]) -> int:
        n = config.get("num_features")
        if not (type(n) is int and n > 0):
            raise ValueError("a BatchNorm needs a positive integer num_features")
        return 4 * n  # γ, β and the two running statistics

    @classmethod
    def config_repr(cls, config: dict[str, Any]) -> str:
        return f"BatchNorm({config.get('num_features')})"

    def formulas(self, training: bool) -> tuple[Formula, ...]:
        if not training:
            return (
                Formula(
                    "forward",
                    "output",
                    "{y} = {weight} ⊙ ({x} − {running_mean}) / √({running_var} + ε) + {bias}, "
                    f"ε = {self.eps:g}",
                    "Batch norm in evaluation mode: each feature scaled and shifted by the "
                    "running statistics, a fixed affine map",
                    ("input", "running_mean", "running_var", "weight", "bias"),
                    self._worked_eval,
                ),
                Formula(
                    "backward",
                    "weight",
                    "dL/d{weight} = Σ {dy} ⊙ ({x} − {running_mean}) / √({running_var} + ε)",
                    "Loss w.r.t. γ: each gradient times its normalised input, summed per feature",
                    ("grad_out", "input", "running_mean", "running_var"),
                    self._worked_gamma_grad,
                ),
                Formula(
                    "backward",
                    "bias",
                    "dL/d{bias} = Σ {dy}",
                    "Loss w.r.t. β: the gradients summed per feature",
                    ("grad_out",),
                    self._worked_beta_grad,
                ),
                Formula(
                    "backward",
                    "input_grad",
                    "{dx} = {dy} ⊙ {weight} / √({running_var} + ε)",
                    None,
                    ("grad_out", "weight", "running_var"),
                    self._worked_input_grad_eval,
                ),
            )
        m = f"{self.momentum:g}"
        return (
            Formula(
                "forward",
                "output",
                "{y} = {weight} ⊙ x̂ + {bias}, x̂ = ({x} − μ) / √(σ² + ε), μ and σ² the mean "
                f"and variance of each feature over the batch, ε = {self.eps:g}",
                "Batch norm: each feature standardised over the batch, then scaled by γ and "
                "shifted by β",
                ("input", "weight", "bias"),
                self._worked_training,
            ),
            Formula(
                "forward",
                "running_mean",
                f"{{running_mean}} ← (1 − {m})·{{running_mean}} + {m}·μ",
                "Running mean: moved a step towards the batch's mean (used in evaluation)",
                ("running_mean", "input"),
                self._worked_running_mean,
            ),
            Formula(
                "forward",
                "running_var",
                f"{{running_var}} ← (1 − {m})·{{running_var}} + {m}·σ²·m/(m − 1)",
                "Running variance: moved a step towards the batch's unbiased variance",
                ("running_var", "input"),
                self._worked_running_var,
            ),
            Formula(
                "backward",
                "weight",
                "dL/d{weight} = Σ {dy} ⊙ x̂",
                "Loss w.r.t. γ: each gradient times its normalised input, summed per feature",
                ("grad_out", "input"),
                self._worked_gamma_grad,
            ),
            Formula(
                "backward",
                "bias",
                "dL/d{bias} = Σ {dy}",
                "Loss w.r.t. β: the gradients summed per feature",
                ("grad_out",),
                self._worked_beta_grad,
            ),
            Formula(
                "backward",
                "input_grad",
                "{dx} = ({weight} / s) ⊙ ({dy} − mean({dy}) − x̂ ⊙ mean({dy} ⊙ x̂)), "
                "s = √(σ² + ε), the means per feature over the batch",
                "Loss w.r.t. the layer's input: through x̂ and through the batch's μ and σ², "
                "which every value of the feature moves",
                ("grad_out", "input", "weight"),
                self._worked_input_grad,
            ),
        )

    def _statistics(self, values, c: int) -> tuple[np.ndarray, float, float]:
        """Feature ``c`` of the input in float64, its batch mean and its biased variance."""
        column = values["input"].reshape(-1, self.num_features)[:, c].astype(np.float64)
        mu = float(column.mean())
        return column, mu, float(np.mean((column - mu) ** 2))

    def _normalised(self, values, c: int) -> tuple[np.ndarray, str]:
        """x̂ of feature ``c``, by the batch's statistics (training) or the running ones."""
        if "running_mean" in values:  # evaluation mode's formula uses the running statistics
            column = values["input"].reshape(-1, self.num_features)[:, c].astype(np.float64)
            mean, var = float(values["running_mean"][c]), float(values["running_var"][c])
            s = math.sqrt(var + self.eps)
            return (column - mean) / s, (
                f"x̂ = ({{x}} − {{running_mean}}[{c}]) / √({{running_var}}[{c}] + ε), "
                f"{{running_mean}}[{c}] = {number(mean)}, {{running_var}}[{c}] = {number(var)}"
            )
        column, mu, var = self._statistics(values, c)
        s = math.sqrt(var + self.eps)
        how = f"x̂ = ({{x}} − μ) / √(σ² + ε), μ = {number(mu)}, σ² = {number(var)}"
        return (column - mu) / s, how

    def _worked_gamma_grad(self, values, index: tuple[int, ...]) -> Worked:
        (c,) = index
        xhat, how = self._normalised(values, c)
        dy = values["grad_out"].reshape(-1, self.num_features)[:, c].astype(np.float64)
        total = float(np.dot(dy, xhat))
        cells = (*([slice(None)] * (values["grad_out"].ndim - 1)), c)
        return Worked(
            index=index,
            lines=(
                f"dL/d{{weight}}[{c}] = Σ {{dy}}{index_text(cells)} ⊙ x̂, {how}",
                f"= {sum_of_products(dy, xhat)}",
                f"= {number(total)}",
            ),
            value=total,
            cells=(("grad_out", cells), ("input", cells)),
        )

    def _worked_beta_grad(self, values, index: tuple[int, ...]) -> Worked:
        (c,) = index
        dy = values["grad_out"].reshape(-1, self.num_features)[:, c].astype(np.float64)
        total = float(dy.sum())
        cells = (*([slice(None)] * (values["grad_out"].ndim - 1)), c)
        terms = " + ".join(number(v) for v in dy[:4]) + (" + …" if dy.size > 4 else "")
        return Worked(
            index=index,
            lines=(f"dL/d{{bias}}[{c}] = Σ {{dy}}{index_text(cells)} = {terms} = {number(total)}",),
            value=total,
            cells=(("grad_out", cells),),
        )

    def _worked_input_grad(self, values, index: tuple[int, ...]) -> Worked:
        """``dx = (γ/s)·(g − mean(g) − x̂·mean(g ⊙ x̂))`` at one element, the means over the
        feature's values in the batch."""
        c = int(index[-1])
        column, mu, var = self._statistics(values, c)
        s = math.sqrt(var + self.eps)
        xhat = (column - mu) / s
        dy = values["grad_out"].reshape(-1, self.num_features)[:, c].astype(np.float64)
        k = int(np.ravel_multi_index(index, values["input"].shape)) // self.num_features
        mean_g, mean_gx = float(dy.mean()), float(np.mean(dy * xhat))
        gamma = float(values["weight"][c])
        value = gamma / s * (float(dy[k]) - mean_g - float(xhat[k]) * mean_gx)
        cells = (*([slice(None)] * (values["input"].ndim - 1)), c)
        at = index_text(index)
        return Worked(
            index=index,
            lines=(
                f"s = √(σ² + ε) = {number(s)}, x̂{at} = {number(xhat[k])}, "
                f"mean({{dy}}) = {number(mean_g)}, mean({{dy}} ⊙ x̂) = {number(mean_gx)} "
                f"over the {dy.size} values of feature {c}",
                f"{{dx}}{at} = ({{weight}}[{c}] / s)·({{dy}}{at} − mean({{dy}}) − "
                f"x̂{at}·mean({{dy}} ⊙ x̂))",
                f"= ({number(gamma)} / {number(s)})·({number(dy[k])} − {_n(mean_g)} − "
                f"{_n(xhat[k])}·{_n(mean_gx)}) = {number(value)}",
            ),
            value=value,
            cells=(("grad_out", cells), ("input", cells), ("weight", (c,))),
        )

    def _worked_input_grad_eval(self, values, index: tuple[int, ...]) -> Worked:
        c = int(index[-1])
        dy, gamma, var = (
            float(values["grad_out"][index]),
            float(values["weight"][c]),
            float(values["running_var"][c]),
        )
        s = math.sqrt(var + self.eps)
        value = dy * gamma / s
        at = index_text(index)
        return Worked(
            index=index,
            lines=(
                f"{{dx}}{at} = {{dy}}{at} · {{weight}}[{c}] / √({{running_var}}[{c}] + ε) = "
                f"{number(dy)} · {number(gamma)} / {number(s)} = {number(value)}",
            ),
            value=value,
            cells=(("grad_out", index), ("weight", (c,)), ("running_var", (c,))),
        )

    def _worked_running_mean(self, values, index: tuple[int, ...]) -> Worked:
        (c,) = index
        _, mu, _ = self._statistics(values, c)
        old, m = float(values["running_mean"][c]), self.momentum
        value = (1 - m) * old + m * mu
        cells = (*([slice(None)] * (values["input"].ndim - 1)), c)
        return Worked(
            index=index,
            lines=(
                f"new {{running_mean}}[{c}] = (1 − {m:g})·{number(old)} + {m:g}·μ, μ = mean of "
                f"{{x}}{index_text(cells)} = {number(mu)}",
                f"= {number(value)}",
            ),
            value=value,
            cells=(("running_mean", (c,)), ("input", cells)),
        )

    def _worked_running_var(self, values, index: tuple[int, ...]) -> Worked:
        (c,) = index
        column, _, var = self._statistics(values, c)
        n = column.size
        old, m = float(values["running_var"][c]), self.momentum
        unbiased = var * n / (n - 1) if n > 1 else var
        value = (1 - m) * old + m * unbiased
        cells = (*([slice(None)] * (values["input"].ndim - 1)), c)
        return Worked(
            index=index,
            lines=(
                f"new {{running_var}}[{c}] = (1 − {m:g})·{number(old)} + {m:g}·σ²·m/(m − 1), "
                f"σ² = {number(var)}, m = {n}",
                f"= {number(value)}",
            ),
            value=value,
            cells=(("running_var", (c,)), ("input", cells)),
        )

    def _feature(self, x: np.ndarray, index: tuple[int, ...]):
        c = index[-1]
        column = x.reshape(-1, self.num_features)[:, c]
        cells = (*([slice(None)] * (x.ndim - 1)), c)
        return c, column, cells

    def _worked_training(self, values, index: tuple[int, ...]) -> Worked:
        x, gamma, beta = values["input"], values["weight"], values["bias"]
        c, column, cells = self._feature(x, index)
        mu = float(np.mean(column, dtype=np.float64))
        var = float(np.mean((column - mu) ** 2, dtype=np.float64))
        s = math.sqrt(var + self.eps)
        xv = float(x[index])
        xhat = (xv - mu) / s
        value = float(gamma[c]) * xhat + float(beta[c])
        return Worked(
            index=index,
            lines=(
                f"μ = mean of {{x}}{index_text(cells)} ({column.size} values) = {number(mu)}",
                f"σ² = mean of ({{x}} − μ)² = {number(var)}",
                f"x̂ = ({number(xv)} − {number(mu)}) / √({number(var)} + {self.eps:g}) = "
                f"{number(xhat)}",
                f"{{y}}{index_text(index)} = {{weight}}[{c}]·x̂ + {{bias}}[{c}] = "
                f"{number(gamma[c])}·{number(xhat)} + {number(beta[c])} = {number(value)}",
            ),
            value=value,
            cells=(("input", cells), ("weight", (c,)), ("bias", (c,))),
        )

    def _worked_eval(self, values, index: tuple[int, ...]) -> Worked:
        x, gamma, beta = values["input"], values["weight"], values["bias"]
        mean, var = values["running_mean"], values["running_var"]
        c = index[-1]
        xv = float(x[index])
        s = math.sqrt(float(var[c]) + self.eps)
        value = float(gamma[c]) * (xv - float(mean[c])) / s + float(beta[c])
        return Worked(
            index=index,
            lines=(
                f"{{y}}{index_text(index)} = {{weight}}[{c}]·({{x}}{index_text(index)} − "
                f"{{running_mean}}[{c}]) / √({{running_var}}[{c}] + ε) + {{bias}}[{c}]",
                f"= {number(gamma[c])}·({number(xv)} − {number(mean[c])}) / "
                f"√({number(var[c])} + {self.eps:g}) + {number(beta[c])} = {number(value)}",
            ),
            value=value,
            cells=(
                ("input", index),
                ("running_mean", (c,)),
                ("running_var", (c,)),
                ("weight", (c,)),
                ("bias", (c,)),
            ),
        )

    def to_onnx(self, graph, path: str, x: str) -> str:
        """``BatchNormalization`` with the running statistics (an exported model is for
        inference); ONNX normalises axis 1, so an input of more than two axes is transposed to
        channels-first and back."""
        rank = len(graph.input_shape(self)) + 1
        inputs = [
            graph.tensor(f"{path}.weight", self.weight.data),
            graph.tensor(f"{path}.bias", self.bias.data),
            graph.tensor(f"{path}.running_mean", self.running_mean.data),
            graph.tensor(f"{path}.running_var", self.running_var.data),
        ]
        if rank == 2:
            return graph.node(
                "BatchNormalization", [x, *inputs], f"{path}.batch_norm", epsilon=self.eps
            )
        first = graph.node(
            "Transpose", [x], f"{path}.to_channels_first", perm=[0, rank - 1, *range(1, rank - 1)]
        )
        normal = graph.node(
            "BatchNormalization", [first, *inputs], f"{path}.batch_norm", epsilon=self.eps
        )
        return graph.node(
            "Transpose", [normal], f"{path}.to_channels_last", perm=[0, *range(2, rank), 1]
        )


@register_layer
class LayerNorm(Layer):
    """Layer normalisation: each sample (and position) standardised over its last axis, or last
    axes, ``normalized_shape`` (an int or a tuple), then scaled by γ and shifted by β, both of that
    shape. With ``D`` the number of values normalised together::

        μ = (1/D) Σ x      σ² = (1/D) Σ (x − μ)²      s = √(σ² + ε)
        x̂ = (x − μ) / s    y = γ ⊙ x̂ + β

    The same in training and evaluation: no running statistics. Backward, each sum over the
    ``D`` values of one sample (or over the samples, for γ and β), with ``g = γ ⊙ dy``::

        dβ = Σ_samples dy      dγ = Σ_samples dy ⊙ x̂          (normalized_shape)
        dx = (g − mean(g) − x̂ ⊙ mean(g ⊙ x̂)) / s                   (shape of x)

    as batch norm's, with γ along the normalised axes instead of outside them.
    """

    _transient = ("_cache",)
    trace_letter = "Y"
    trace_symbols: ClassVar[dict[str, str]] = {"weight": "γ", "bias": "β"}

    def __init__(
        self, normalized_shape: int | tuple[int, ...], *, eps: float = 1e-5, dtype=np.float64
    ):
        if isinstance(normalized_shape, numbers.Integral) and not isinstance(
            normalized_shape, (bool, np.bool_)
        ):
            normalized_shape = (normalized_shape,)
        if not isinstance(normalized_shape, (tuple, list)) or not normalized_shape:
            raise TypeError(
                "normalized_shape must be an int or a tuple of ints, got "
                f"{describe(normalized_shape)}"
            )
        self.normalized_shape = tuple(
            check_int(d, "normalized_shape", minimum=1) for d in normalized_shape
        )
        self.eps = check_positive(eps, "eps")
        dt = check_float_dtype(dtype)
        self.weight = Parameter(np.ones(self.normalized_shape), dtype=dt)
        self.bias = Parameter(np.zeros(self.normalized_shape), dtype=dt)
        self._cache = None

    def forward(self, x: np.ndarray) -> np.ndarray:
        x = _input(self, x, self.weight.data.dtype)
        k = len(self.normalized_shape)
        if x.ndim < k + 1 or x.shape[-k:] != self.normalized_shape:
            raise ValueError(
                f"{self!r} expected input (batch, …, "
                f"{', '.join(map(str, self.normalized_shape))}), got shape {x.shape}"
            )
        D = math.prod(self.normalized_shape)
        x2 = x.reshape(-1, D)
        dtype = x2.dtype
        ones = self._scratch("ones", (D,), dtype, fill=1)
        mu = np.dot(x2, ones) / dtype.type(D)
        xc = x2 - mu[:, None]
        var = np.dot(np.square(xc, out=self._scratch("square", xc.shape, dtype)), ones)
        var /= dtype.type(D)
        s = np.sqrt(var + dtype.type(self.eps))
        xc /= s[:, None]  # x̂
        y = xc * self.weight.data.reshape(D)
        y += self.bias.data.reshape(D)
        self._cache = (xc, s, x.shape)
        return y.reshape(x.shape)

    def backward(self, grad_out: np.ndarray) -> np.ndarray:
        xhat, s, shape = self._cached("_cache")
        dtype = xhat.dtype
        D = xhat.shape[1]
        dy = self._check_grad_out(grad_out, shape, dtype).reshape(-1, D)
        rows = self._scratch("row_ones", (dy.shape[0],), dtype, fill=1)
        np.dot(rows, dy, out=self.bias.grad.reshape(D))  # dβ = Σ dy
        np.dot(rows, dy * xhat, out=self.weight.grad.reshape(D))  # dγ = Σ dy ⊙ x̂
        g = dy * self.weight.data.reshape(D)
        ones = self._scratch("ones", (D,), dtype, fill=1)
        mean_g = np.dot(g, ones) / dtype.type(D)
        mean_gx = np.dot(g * xhat, ones) / dtype.type(D)
        g -= mean_g[:, None]
        g -= xhat * mean_gx[:, None]
        g /= s[:, None]
        return g.reshape(shape)

    def get_config(self) -> dict[str, Any]:
        return {
            "normalized_shape": list(self.normalized_shape),
            "eps": self.eps,
            "dtype": str(self.weight.data.dtype),
        }

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> LayerNorm:
        config = dict(config)
        shape = config.pop("normalized_shape", None)
        if not isinstance(shape, list):
            raise ValueError(f"a LayerNorm needs normalized_shape as a list, got {shape!r}")
        return cls(tuple(shape), **config)

    @classmethod
    def parameter_count(cls, config: dict[str, Any]) -> int:
        shape = config.get("normalized_shape")
        if not (isinstance(shape, list) and shape and all(type(d) is int and d > 0 for d in shape)):
            raise ValueError("a LayerNorm needs normalized_shape as a list of positive integers")
        return 2 * math.prod(shape)

    @classmethod
    def config_repr(cls, config: dict[str, Any]) -> str:
        shape = config.get("normalized_shape") or []
        inner = str(shape[0]) if len(shape) == 1 else str(tuple(shape))
        return f"LayerNorm({inner})"

    def formulas(self, training: bool) -> tuple[Formula, ...]:
        return (
            Formula(
                "forward",
                "output",
                "{y} = {weight} ⊙ x̂ + {bias}, x̂ = ({x} − μ) / √(σ² + ε), μ and σ² the mean and "
                f"variance of each sample over its last {len(self.normalized_shape)} axis(es), "
                f"ε = {self.eps:g}",
                "Layer norm: each sample standardised over its features, then scaled by γ and "
                "shifted by β",
                ("input", "weight", "bias"),
                self._worked,
            ),
            Formula(
                "backward",
                "weight",
                "dL/d{weight} = Σ_samples {dy} ⊙ x̂",
                "Loss w.r.t. γ: each gradient times its normalised input, summed over samples",
                ("grad_out", "input"),
                self._worked_gamma_grad,
            ),
            Formula(
                "backward",
                "bias",
                "dL/d{bias} = Σ_samples {dy}",
                "Loss w.r.t. β: the gradients summed over the samples",
                ("grad_out",),
                self._worked_beta_grad,
            ),
            Formula(
                "backward",
                "input_grad",
                "{dx} = (g − mean(g) − x̂ ⊙ mean(g ⊙ x̂)) / s, g = {weight} ⊙ {dy}, "
                "s = √(σ² + ε), the means over each sample's features",
                "Loss w.r.t. the layer's input: through x̂ and through the sample's μ and σ²",
                ("grad_out", "input", "weight"),
                self._worked_input_grad,
            ),
        )

    def _xhat(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """x̂ and s = √(σ² + ε) of every sample group, in float64."""
        k = len(self.normalized_shape)
        axes = tuple(range(x.ndim - k, x.ndim))
        x = x.astype(np.float64)
        mu = x.mean(axis=axes, keepdims=True)
        s = np.sqrt(((x - mu) ** 2).mean(axis=axes, keepdims=True) + self.eps)
        return (x - mu) / s, s

    def _worked_gamma_grad(self, values, index: tuple[int, ...]) -> Worked:
        tail = tuple(int(i) for i in index)
        xhat, _ = self._xhat(values["input"])
        cells = (*([slice(None)] * (values["input"].ndim - len(tail))), *tail)
        dy = values["grad_out"][cells].astype(np.float64).reshape(-1)
        xs = xhat[cells].reshape(-1)
        total = float(np.dot(dy, xs))
        return Worked(
            index=tail,
            lines=(
                f"dL/d{{weight}}{index_text(tail)} = Σ_samples {{dy}}{index_text(cells)} ⊙ x̂, "
                "x̂ each sample's standardised input",
                f"= {sum_of_products(dy, xs)}",
                f"= {number(total)}",
            ),
            value=total,
            cells=(("grad_out", cells), ("input", cells)),
        )

    def _worked_beta_grad(self, values, index: tuple[int, ...]) -> Worked:
        tail = tuple(int(i) for i in index)
        cells = (*([slice(None)] * (values["grad_out"].ndim - len(tail))), *tail)
        dy = values["grad_out"][cells].astype(np.float64).reshape(-1)
        total = float(dy.sum())
        terms = " + ".join(number(v) for v in dy[:4]) + (" + …" if dy.size > 4 else "")
        return Worked(
            index=tail,
            lines=(
                f"dL/d{{bias}}{index_text(tail)} = Σ_samples {{dy}}{index_text(cells)} = {terms} "
                f"= {number(total)}",
            ),
            value=total,
            cells=(("grad_out", cells),),
        )

    def _worked_input_grad(self, values, index: tuple[int, ...]) -> Worked:
        index = tuple(int(i) for i in index)
        k = len(self.normalized_shape)
        head = index[:-k]
        group = (*head, *([slice(None)] * k))
        xhat, s = self._xhat(values["input"])
        g = (values["weight"].astype(np.float64) * values["grad_out"][group]).reshape(-1)
        xs = xhat[group].reshape(-1)
        mean_g, mean_gx = float(g.mean()), float(np.mean(g * xs))
        here = float((values["weight"] * values["grad_out"][group])[index[-k:]])
        xh, sv = float(xhat[index]), float(s[(*head, *([0] * k))])
        value = (here - mean_g - xh * mean_gx) / sv
        at = index_text(index)
        return Worked(
            index=index,
            lines=(
                f"g = {{weight}} ⊙ {{dy}}{index_text(group)}; g{at} = {number(here)}, "
                f"mean(g) = {number(mean_g)}, mean(g ⊙ x̂) = {number(mean_gx)}, "
                f"x̂{at} = {number(xh)}, s = {number(sv)}",
                f"{{dx}}{at} = (g{at} − mean(g) − x̂{at}·mean(g ⊙ x̂)) / s",
                f"= ({number(here)} − {_n(mean_g)} − {_n(xh)}·{_n(mean_gx)}) / {number(sv)} "
                f"= {number(value)}",
            ),
            value=value,
            cells=(("grad_out", group), ("input", group), ("weight", (slice(None),) * k)),
        )

    def _worked(self, values, index: tuple[int, ...]) -> Worked:
        x, gamma, beta = values["input"], values["weight"], values["bias"]
        k = len(self.normalized_shape)
        head, tail = index[:-k], index[-k:]
        cells = (*head, *([slice(None)] * k))
        group = x[cells]
        mu = float(np.mean(group, dtype=np.float64))
        var = float(np.mean((group - mu) ** 2, dtype=np.float64))
        s = math.sqrt(var + self.eps)
        xv = float(x[index])
        xhat = (xv - mu) / s
        g, b = float(gamma[tail]), float(beta[tail])
        value = g * xhat + b
        at = index_text(tail)
        return Worked(
            index=index,
            lines=(
                f"μ = mean of {{x}}{index_text(cells)} ({group.size} values) = {number(mu)}",
                f"σ² = mean of ({{x}} − μ)² = {number(var)}",
                f"x̂ = ({number(xv)} − {number(mu)}) / √({number(var)} + {self.eps:g}) = "
                f"{number(xhat)}",
                f"{{y}}{index_text(index)} = {{weight}}{at}·x̂ + {{bias}}{at} = "
                f"{number(g)}·{number(xhat)} + {number(b)} = {number(value)}",
            ),
            value=value,
            cells=(("input", cells), ("weight", tail), ("bias", tail)),
        )

    def to_onnx(self, graph, path: str, x: str) -> str:
        """``LayerNormalization`` from opset 17; before it, the same steps written out
        (``ReduceMean``, ``Sub``, ``Mul``, ``Sqrt``, ``Div``), in the graph's dtype."""
        k = len(self.normalized_shape)
        gamma = graph.tensor(f"{path}.weight", self.weight.data)
        beta = graph.tensor(f"{path}.bias", self.bias.data)
        if graph.opset >= 17:
            return graph.node(
                "LayerNormalization",
                [x, gamma, beta],
                f"{path}.layer_norm",
                axis=-k,
                epsilon=self.eps,
            )
        rank = len(graph.input_shape(self)) + 1
        axes = list(range(rank - k, rank))
        mean = graph.reduce("ReduceMean", x, axes, f"{path}.mean", keepdims=1)
        centred = graph.node("Sub", [x, mean], f"{path}.centred")
        square = graph.node("Mul", [centred, centred], f"{path}.square")
        var = graph.reduce("ReduceMean", square, axes, f"{path}.variance", keepdims=1)
        eps = graph.tensor(f"{path}.eps", np.array(self.eps))
        s = graph.node("Sqrt", [graph.node("Add", [var, eps], f"{path}.var_eps")], f"{path}.s")
        xhat = graph.node("Div", [centred, s], f"{path}.x_hat")
        scaled = graph.node("Mul", [xhat, gamma], f"{path}.scaled")
        return graph.node("Add", [scaled, beta], f"{path}.layer_norm")


def _n(v: float) -> str:
    text = number(v)
    return f"({text})" if text.startswith("-") else text
