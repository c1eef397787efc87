"""Health of a network at one training step: dead ReLUs, and gradients that vanish or explode.

``diagnose(model, X, y, loss, lr=1e-3)`` runs one step on all of ``X`` (observed, as ``trace``
does, and leaving the model as it was) and reports, per layer:

* for a ``ReLU``: its **dead units**, those whose pre-activation is ≤ 0 for every sample of X.
  A dead unit passes no gradient back, so nothing in front of it learns from it, and since its
  incoming weights then get no gradient from it, it stays dead. After a convolution a unit is a
  channel (the last axis), dead when it is ≤ 0 at every position of every sample;
* for a layer with parameters θ (all of its parameters together, weights and biases):
  ``‖θ‖`` and ``‖∇θ‖`` (Frobenius norms) and the **update ratio** ``lr · ‖∇θ‖ / ‖θ‖``, how far
  one plain gradient step ``θ ← θ − lr · ∇θ`` moves the parameters, relative to their size.

Flags and their thresholds (module constants, so they can be read and tested):

=============  =====================================  ===========================================
flag           when                                   why this threshold
=============  =====================================  ===========================================
``dead``       ≥ ``DEAD_FRACTION`` = 50 % of the      a few dead units are the normal price of
               ReLU's units are dead                  ReLU's sparsity; half or more means the
                                                      layer has lost most of its width
``vanishing``  update ratio < ``VANISHING_RATIO``     the usual rule of thumb for a healthy step
               = 1e-6, or ∇θ is exactly 0             is about 1e-3; a thousand times smaller
                                                      needs a million steps to move θ by its own
                                                      size, i.e. the layer is not learning
``exploding``  update ratio > ``EXPLODING_RATIO``     one step changes θ by more than a tenth of
               = 0.1, or ∇θ is not finite             its size; a few such steps replace the
                                                      weights entirely, and training overshoots
=============  =====================================  ===========================================

On one sample (a trace of one row) a unit that is off is only **inactive for this sample**: it may
be on for the next row, so it is flagged ``inactive``, never ``dead``; run ``hg.diagnose`` on
the data set to know. The ratio is that of *this* step: the first steps of a fresh network
often have the largest gradients (its loss is at its highest), so a layer flagged ``exploding``
at the first step may still train, as the notebook's network does at ``lr = 0.01``; the flag says
that this step replaces a large part of the layer's weights, which a run that overshoots shows
first.

The update ratio depends on the learning rate, so give the one you train with; the default
``lr = 1e-3`` is Adam's default step size. (For Adam the real step is about ``lr`` per element
whatever the gradient's size, so there the gradient-based ratio says how the gradients compare
across layers rather than how far Adam moves.) When ``‖θ‖ = 0`` (weights initialised to zero) the
ratio is undefined: it is reported as NaN and not flagged.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from .. import _html
from .._validation import as_batch, check_bool, check_positive, describe
from ..nn.activations import ReLU
from ..nn.losses import Loss
from ..nn.sequential import Sequential
from .observe import LayerCall, StepRecord, acts_as, observe_step

DEAD_FRACTION = 0.5
VANISHING_RATIO = 1e-6
EXPLODING_RATIO = 0.1
DEFAULT_LR = 1e-3


@dataclass(frozen=True)
class LayerHealth:
    """The figures of one layer. Fields that do not apply to the layer are ``None``:
    ``dead_units``/``units`` for all but ReLUs, the norms for layers without parameters."""

    path: str
    layer: str
    dead_units: int | None = None
    units: int | None = None
    param_norm: float | None = None
    grad_norm: float | None = None
    update_ratio: float | None = None
    flags: tuple[str, ...] = ()

    @property
    def dead_fraction(self) -> float | None:
        if self.dead_units is None or not self.units:
            return None
        return self.dead_units / self.units


@dataclass(frozen=True)
class Diagnosis:
    """What :func:`diagnose` found; ``str(diagnosis)`` is a table with the flags explained."""

    layers: tuple[LayerHealth, ...]
    loss_value: float
    lr: float
    n_samples: int

    @property
    def flagged(self) -> tuple[LayerHealth, ...]:
        return tuple(h for h in self.layers if h.flags)

    @property
    def healthy(self) -> bool:
        return not self.flagged

    def __getitem__(self, path: str) -> LayerHealth:
        for health in self.layers:
            if health.path == path:
                return health
        raise KeyError(
            f"no layer {path!r}; the layers diagnosed are {[h.path for h in self.layers]}"
        )

    def messages(self) -> list[str]:
        """One sentence per flag, saying what was measured against which threshold."""
        out = []
        for h in self.layers:
            where = f"layer {h.path} {h.layer}"
            for flag in h.flags:
                if flag == "inactive":
                    out.append(
                        f"{where}: {h.dead_units} of {h.units} units inactive for this sample "
                        f"(pre-activation ≤ 0); one sample cannot tell a dead unit, "
                        f"hg.diagnose on the data set can"
                    )
                elif flag == "dead":
                    out.append(
                        f"{where}: {h.dead_units} of {h.units} units dead (pre-activation ≤ 0 "
                        f"for all {_samples(self.n_samples)}; flagged from {DEAD_FRACTION:.0%})"
                    )
                elif flag == "vanishing":
                    out.append(
                        f"{where}: vanishing gradient, update ratio {_num(h.update_ratio)} "
                        f"< {VANISHING_RATIO:g} at lr = {self.lr:g}"
                    )
                else:
                    out.append(
                        f"{where}: exploding gradient, update ratio {_num(h.update_ratio)} "
                        f"> {EXPLODING_RATIO:g} at lr = {self.lr:g}"
                    )
        return out

    def notes(self) -> list[str]:
        """Why the flags of one step are what they are, where a reader may wonder."""
        if any("exploding" in h.flags for h in self.layers):
            return [
                "An update ratio is that of this one step: a fresh network's first gradients are "
                "often its largest (the loss is at its highest), so a layer flagged exploding "
                "may still train; the flag says that this step replaces more than a tenth of "
                "the layer's weights, where a run that overshoots starts."
            ]
        return []

    @property
    def relu_heading(self) -> str:
        return "inactive ReLUs" if self.n_samples == 1 else "dead ReLUs"

    def _repr_html_(self) -> str:
        """The table and the flags, for a notebook."""
        head = ("layer", "", self.relu_heading, "‖θ‖", "‖∇θ‖", "update ratio", "flags")
        classes = ["hg-bad" if h.flags else "" for h in self.layers]
        messages = self.messages()
        flags = (
            "".join(f'<p class="hg-bad">{_html.esc(m)}</p>' for m in messages)
            if messages
            else '<p class="hg-good">no layer flagged</p>'
        )
        notes = "".join(f'<p class="hg-note">{_html.esc(n)}</p>' for n in self.notes())
        body = (
            f'<p class="hg-title">diagnosis: {_html.esc(self.summary())}</p>'
            + _html.table(head, self.rows(), numeric=(2, 3, 4, 5), row_classes=classes)
            + flags
            + notes
        )
        return _html.fragment("hg-diagnosis", body)

    def _repr_markdown_(self) -> str:
        head = ("layer", "", self.relu_heading, "‖θ‖", "‖∇θ‖", "update ratio", "flags")
        lines = [
            f"**diagnosis**: {_html.md_cell(self.summary())}",
            "",
            _html.md_table(head, self.rows()),
            "",
        ]
        lines += [f"- {_html.md_cell(m)}" for m in self.messages()] or ["no layer flagged"]
        lines += ["", *(_html.md_cell(n) for n in self.notes())]
        return "\n".join(lines).rstrip() + "\n"

    def summary(self) -> str:
        return (
            f"L = {self.loss_value:.6g} on {_samples(self.n_samples)}; "
            f"update ratio = lr·‖∇θ‖/‖θ‖ at lr = {self.lr:g}"
        )

    def rows(self) -> list[list[str]]:
        """Per layer: path, layer, dead ReLUs, ‖θ‖, ‖∇θ‖, update ratio, flags, as text."""
        rows = []
        for h in self.layers:
            dead = (
                "" if h.dead_units is None else f"{h.dead_units}/{h.units} ({h.dead_fraction:.0%})"
            )
            norms = [_num(h.param_norm), _num(h.grad_norm), _num(h.update_ratio)]
            rows.append([h.path, h.layer, dead, *norms, ", ".join(h.flags)])
        return rows

    def __str__(self) -> str:
        head = (
            f"{'layer':<7}{'':<16}{self.relu_heading:>14}{'‖θ‖':>11}{'‖∇θ‖':>11}"
            f"{'update ratio':>14}  flags"
        )
        lines = [
            f"diagnosis: {self.summary()}",
            head,
            "-" * len(head),
        ]
        for path, layer, dead, p, g, r, flags in self.rows():
            line = f"{path:<7}{_cut(layer, 15):<16}{dead:>14}{p:>11}{g:>11}{r:>14}  {flags}"
            lines.append(line.rstrip())
        lines += self.messages() or ["no layer flagged"]
        lines += self.notes()
        return "\n".join(lines)

    def __repr__(self) -> str:
        return str(self)


def _samples(n: int) -> str:
    return f"{n} sample" if n == 1 else f"{n} samples"


def _num(value: float | None) -> str:
    return "" if value is None else f"{value:.2e}"


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def diagnosis_of(record: StepRecord, lr: float) -> Diagnosis:
    """The diagnosis of an observed step (the numbers the step computed)."""
    one = len(record.x) == 1
    return Diagnosis(
        layers=tuple(h for call in record.calls if (h := _health(call, lr, one)) is not None),
        loss_value=record.loss_value,
        lr=lr,
        n_samples=len(record.x),
    )


def _health(call: LayerCall, lr: float, one_sample: bool) -> LayerHealth | None:
    name = repr(call.layer)
    fields: dict[str, Any] = {}
    flags = []
    if acts_as(call.layer, ReLU) and call.input.ndim >= 2:
        units = call.input.shape[-1]
        dead = int(np.count_nonzero(np.all(call.input.reshape(-1, units) <= 0, axis=0)))
        fields.update(dead_units=dead, units=units)
        if units and dead / units >= DEAD_FRACTION:
            flags.append("inactive" if one_sample else "dead")
    if call.params:
        param_norm = _norm(call.params.values())
        grad_norm = _norm(call.grads.values())
        ratio = lr * grad_norm / param_norm if param_norm > 0 else math.nan
        fields.update(param_norm=param_norm, grad_norm=grad_norm, update_ratio=ratio)
        if not math.isfinite(grad_norm) or ratio > EXPLODING_RATIO:
            flags.append("exploding")
        elif grad_norm == 0 or ratio < VANISHING_RATIO:
            flags.append("vanishing")
    if not fields:
        return None
    return LayerHealth(path=call.path, layer=name, flags=tuple(flags), **fields)


def _norm(arrays) -> float:
    # In float64 so that a float32 layer's squares neither overflow nor lose the small ones.
    return math.sqrt(sum(float(np.sum(np.square(a, dtype=np.float64))) for a in arrays))


def diagnose(
    model: Sequential, X: Any, y: Any, loss: Loss, lr: float = DEFAULT_LR, *, training: bool = True
) -> Diagnosis:
    """Dead ReLUs, parameter and gradient norms and update ratios of one step on all of ``X``.

    Parameters
    ----------
    model : Sequential
    X : array (n_samples, n_features), or (n_samples, …) for a network on images
        The data, run as one batch: a unit is dead if it is off for every row.
    y : targets in the form ``loss`` takes
    loss : Loss
    lr : float
        The learning rate the update ratio is computed for (default 1e-3, see the module docs).
    training : bool
        Run the step in training mode (default, as ``fit`` does) or in evaluation mode.

    The model is left as it was (parameters, gradients, modes, Dropout's random state).
    """
    if not isinstance(model, Sequential):
        raise TypeError(f"model must be a hg.Sequential, got {describe(model)}")
    if not isinstance(loss, Loss):
        raise TypeError(f"loss must be a hg.Loss (e.g. hg.MSELoss()), got {describe(loss)}")
    X = as_batch(X, "X")
    if len(X) == 0:
        raise ValueError("X is empty: diagnose needs at least one row")
    lr = check_positive(lr, "lr")
    check_bool(training, "training")
    return diagnosis_of(observe_step(model, X, y, loss, None, training), lr)
