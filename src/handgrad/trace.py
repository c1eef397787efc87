"""Show your work: every formula of one training step, with the numbers the library computed.

``hg.trace(model, x, target, loss, lr=None)`` runs one real step of a ``Sequential`` and returns a
:class:`Trace`, a list of :class:`Entry` in the order the maths happens:

* **forward**, per layer: the input ``A0``; for ``Dense`` ``Z = A_prev · W + b``; for an
  activation ``A = f(Z)``;
* **loss**: its value, and ``dL/dp``, where the backward pass starts (for the fused losses,
  e.g. ``CrossEntropyLoss``, ``dL/dz = (softmax(z) − Y)/n`` directly);
* **backward**, per layer from last to first: for an activation ``dL/dZ = dL/dA ⊙ f′(Z)`` (or
  the layer's own rule, e.g. Softmax's Jacobian); for ``Dense`` ``dL/dW = A_prevᵀ · dL/dZ``,
  ``dL/db = Σ dL/dZ`` and ``dL/dA_prev = dL/dZ · Wᵀ``;
* **update**, with ``lr``: ``W ← W − lr · dL/dW`` and the new values, from ``hg.SGD``.

Each entry has its formula in symbols, in words (the notebook's: "Loss w.r.t. weight"), and its
terms: named arrays with their shapes and values. A layer of your own appears with its output,
its parameters' gradients and dL/d(its input), and "formula: not available for <its class>".

Every number is one the library computed: the step runs through the real ``forward``,
``loss.forward``, ``loss.backward``, ``backward`` and ``SGD.step``, each layer watched while it runs
(see :mod:`handgrad._observe`), and nothing is recomputed another way. The one exception is the
notebook's *error* ``a − p``, which no layer computes; the trace subtracts it for ``MSELoss`` and
says so. The model is left as it was: same parameter arrays and values, gradients, train/eval
mode, and random state.

Names: ``A0`` is the input; each layer with parameters starts a new number ``l``, as the notebook
numbers its layers, and holds ``Wl``, ``bl`` (for ``Dense``) or ``<attribute>l``; outputs are
``Zl`` for ``Dense``, ``Al`` for activations and dropout, ``Yl`` for other layers, primed when a
letter repeats within a number (``A1``, ``A1′``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from ._observe import LayerCall, StepRecord, acts_as, check_bool, observe_step
from ._validation import as_input_array, check_positive, describe
from .activations import GELU, Identity, LeakyReLU, ReLU, Sigmoid, Softmax, Tanh
from .diagnostics import DEFAULT_LR, Diagnosis, diagnosis_of
from .layers import Dense, Dropout, Layer
from .losses import BCEWithLogitsLoss, CrossEntropyLoss, Loss, MSELoss
from .model import Sequential

PHASES = ("forward", "loss", "backward", "update")


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
class Entry:
    """One formula of the step, evaluated.

    ``phase`` is one of ``"forward"``, ``"loss"``, ``"backward"``, ``"update"``; ``path`` the
    layer's position in the model (``None`` for the input and the loss); ``layer`` its repr;
    ``kind`` its class name; ``formula`` is ``None`` when no formula is known for it.
    ``result = formula(operands)``.
    """

    phase: str
    path: str | None
    layer: str
    kind: str
    words: str
    formula: str | None
    result: Term
    operands: tuple[Term, ...] = ()

    @property
    def formula_text(self) -> str:
        if self.formula is None:
            return f"formula: not available for {self.kind}"
        return self.formula

    def __str__(self) -> str:
        from .trace_render import render_entries_text

        return render_entries_text([self])


@dataclass(frozen=True, eq=False)
class Trace:
    """One training step, formula by formula. ``trace["dL/dW3"]`` is the value of a symbol;
    ``str(trace)`` (or :meth:`to_text`), :meth:`to_markdown` and :meth:`to_html` render it."""

    entries: tuple[Entry, ...]
    layers: tuple[tuple[str, str], ...]
    loss: str
    loss_value: float
    lr: float | None
    n_samples: int
    dtype: str
    training: bool
    diagnosis: Diagnosis

    def phase(self, name: str) -> tuple[Entry, ...]:
        """The entries of one phase: ``"forward"``, ``"loss"``, ``"backward"`` or ``"update"``."""
        if name not in PHASES:
            raise ValueError(f"phase must be one of {PHASES}, got {name!r}")
        return tuple(e for e in self.entries if e.phase == name)

    def symbols(self) -> list[str]:
        """Every symbol the trace holds a value for, in order of appearance."""
        seen: dict[str, None] = {}
        for e in self.entries:
            for term in (*e.operands, e.result):
                seen.setdefault(term.symbol, None)
        return list(seen)

    def __getitem__(self, symbol: str) -> np.ndarray:
        for e in self.entries:
            if e.result.symbol == symbol:
                return e.result.value
        for e in self.entries:
            for term in e.operands:
                if term.symbol == symbol:
                    return term.value
        raise KeyError(f"no symbol {symbol!r} in the trace; it has {self.symbols()}")

    def to_text(self, **options: Any) -> str:
        """Plain text for a terminal; see :func:`handgrad.trace_render.render_text`."""
        from .trace_render import render_text

        return render_text(self, **options)

    def to_markdown(self, **options: Any) -> str:
        from .trace_render import render_markdown

        return render_markdown(self, **options)

    def to_html(self, **options: Any) -> str:
        """One self-contained HTML page (inline CSS, no scripts, nothing fetched)."""
        from .trace_render import render_html

        return render_html(self, **options)

    def __str__(self) -> str:
        return self.to_text()


def trace(
    model: Sequential,
    x: Any,
    target: Any,
    loss: Loss,
    lr: float | None = None,
    *,
    training: bool = True,
) -> Trace:
    """Trace one training step of ``model`` on the batch ``(x, target)``.

    Parameters
    ----------
    model : Sequential
        Any network, including layers of your own (nested ``Sequential``s are opened up).
    x : array (batch, features)
    target : the targets in the form ``loss`` takes
    loss : Loss
    lr : float, optional
        With a learning rate, the trace ends with the plain gradient-descent update
        ``θ ← θ − lr · dL/dθ`` made by ``hg.SGD``, and the new values. The diagnosis's update
        ratio uses it too (else ``1e-3``).
    training : bool
        Run the step in training mode (default, as ``fit`` does), or in evaluation mode.

    Returns
    -------
    Trace
        The model is left as it was: the same parameter arrays with the same values and
        gradients, each layer's train/eval mode, no wrapper, and Dropout's random generator in
        the state it had (the next real step draws the mask the trace showed).
    """
    if not isinstance(model, Sequential):
        raise TypeError(f"model must be a hg.Sequential, got {describe(model)}")
    if not isinstance(loss, Loss):
        raise TypeError(f"loss must be a hg.Loss (e.g. hg.MSELoss()), got {describe(loss)}")
    x = as_input_array(x, "x", ndim=2)
    if len(x) == 0:
        raise ValueError("x is empty: trace needs at least one row")
    if lr is not None:
        lr = check_positive(lr, "lr")
    training = check_bool(training, "training")
    record = observe_step(model, x, target, loss, lr, training)
    return _build(record, loss, training)


def seed_trace(lr: float | None = 0.01) -> Trace:
    """The learner's notebook completed: its 3-layer back-propagation network
    (``handgrad.notebook.backprop_network()``) traced on its input ``[1, 2, 3]`` and target 1
    with ``MSELoss`` (½(a − p)²), and, with ``lr``, one update."""
    from .notebook import backprop_network

    model, x, target = backprop_network()
    return trace(model, x, target, MSELoss(), lr=lr)


# Building the entries -------------------------------------------------------------------------


class _Names:
    """Symbols for the arrays of the step (see the module docstring)."""

    def __init__(self) -> None:
        self.number = 0
        self.used: dict[str, int] = {"A": 1}  # A0, the input

    def next_number(self) -> None:
        self.number += 1
        self.used = {}

    def take(self, letter: str) -> str:
        count = self.used.get(letter, 0)
        self.used[letter] = count + 1
        return f"{letter}{self.number}" + "′" * count


def _letter(layer: Layer) -> str:
    if acts_as(layer, Dense):
        return "Z"
    if any(acts_as(layer, cls) for cls in (*_ACTIVATIONS, Dropout)):
        return "A"
    return "Y"


def _build(record: StepRecord, loss: Loss, training: bool) -> Trace:
    names = _Names()
    forward = [
        Entry(
            "forward",
            None,
            "input",
            "input",
            "The input, one row per sample (the notebook's inputs)",
            "A0 = x",
            Term("A0", record.x),
        )
    ]
    backward: list[list[Entry]] = []
    update: list[Entry] = []
    current = "A0"
    for k, call in enumerate(record.calls):
        if call.params:
            names.next_number()
        out = names.take(_letter(call.layer))
        params = _param_symbols(call, names.number)
        f, b = _layer_entries(call, current, out, params, first=k == 0)
        forward += f
        backward.append(b)
        update += _update_entries(call, params, record)
        current = out
    entries = [*forward, *_loss_entries(record, loss, current)]
    for b in reversed(backward):
        entries += b
    entries += update
    lr = record.lr
    return Trace(
        entries=tuple(entries),
        layers=tuple((call.path, repr(call.layer)) for call in record.calls),
        loss=repr(loss),
        loss_value=record.loss_value,
        lr=lr,
        n_samples=len(record.x),
        dtype=str(record.pred.dtype),
        training=training,
        diagnosis=diagnosis_of(record, DEFAULT_LR if lr is None else lr),
    )


def _param_symbols(call: LayerCall, number: int) -> dict[str, str]:
    if acts_as(call.layer, Dense):
        return {"weight": f"W{number}", "bias": f"b{number}"}
    return {name: f"{name}{number}" for name in call.params}


def _entry(call: LayerCall, phase: str, words: str, formula, result, operands=()) -> Entry:
    kind = type(call.layer).__name__
    return Entry(phase, call.path, repr(call.layer), kind, words, formula, result, tuple(operands))


def _layer_entries(call, inp, out, params, first) -> tuple[list[Entry], list[Entry]]:
    """The forward and backward entries of one layer call."""
    dout = f"dL/d{out}"
    grad_out = Term(dout, call.grad_out)
    x_term, y_term = Term(inp, call.input), Term(out, call.output)
    dx_term = Term(f"dL/d{inp}", call.grad_in)
    if first:
        dx_words = "Loss w.r.t. the network's input (training does not need it: fit skips it)"
    else:
        dx_words = "Loss w.r.t. the layer's input, the previous layer's output (A)"

    if acts_as(call.layer, Dense):
        W, b = params["weight"], params["bias"]
        W_term = Term(W, call.params["weight"], f"{call.path}.weight")
        b_term = Term(b, call.params["bias"], f"{call.path}.bias")
        fwd = _entry(
            call,
            "forward",
            "Pre-activation neuron output (Z): the inputs times the weights, plus the bias",
            f"{out} = {inp} · {W} + {b}",
            y_term,
            (x_term, W_term, b_term),
        )
        bwd = [
            _entry(
                call,
                "backward",
                "Loss w.r.t. weight: each input times the gradient of each neuron it feeds",
                f"dL/d{W} = {inp}ᵀ · {dout}",
                Term(f"dL/d{W}", call.grads["weight"], f"{call.path}.weight.grad"),
                (x_term, grad_out),
            ),
            _entry(
                call,
                "backward",
                "Loss w.r.t. bias: the gradient of each neuron, summed over the samples",
                f"dL/d{b} = Σ_samples {dout}",
                Term(f"dL/d{b}", call.grads["bias"], f"{call.path}.bias.grad"),
                (grad_out,),
            ),
            _entry(
                call,
                "backward",
                dx_words,
                f"dL/d{inp} = {dout} · {W}ᵀ",
                dx_term,
                (grad_out, W_term),
            ),
        ]
        return [fwd], bwd

    rule = next((r for cls, r in _ACTIVATIONS.items() if acts_as(call.layer, cls)), None)
    if rule is None and acts_as(call.layer, Dropout):
        rule = _dropout_rule

    if rule is not None:
        f_formula, f_words, b_formula, b_words, uses = rule(call.layer, call.training)
        fill = dict(i=inp, o=out, g=dout)
        operands = {"input": x_term, "output": y_term, "grad_out": grad_out}
        fwd = _entry(
            call, "forward", f_words.format(**fill), f_formula.format(**fill), y_term, (x_term,)
        )
        bwd = _entry(
            call,
            "backward",
            b_words.format(**fill),
            b_formula.format(**fill),
            dx_term,
            tuple(operands[u] for u in uses),
        )
        return [fwd], [bwd]

    # A layer of the user's own: its numbers, without a formula.
    kind = type(call.layer).__name__
    param_terms = [Term(params[n], v, f"{call.path}.{n}") for n, v in call.params.items()]
    fwd = _entry(
        call, "forward", f"Output of {kind} (its own forward)", None, y_term, (x_term, *param_terms)
    )
    bwd = [
        _entry(
            call,
            "backward",
            f"Loss w.r.t. {name} ({kind}'s own backward)",
            None,
            Term(f"dL/d{params[name]}", grad, f"{call.path}.{name}.grad"),
            (grad_out,),
        )
        for name, grad in call.grads.items()
    ]
    bwd.append(_entry(call, "backward", dx_words, None, dx_term, (grad_out,)))
    return [fwd], bwd


def _update_entries(call: LayerCall, params: dict[str, str], record: StepRecord) -> list[Entry]:
    out = []
    for name, value in call.params.items():
        new = record.updated.get((call.path, name))
        if new is None:
            continue
        sym = params[name]
        what = name if name in ("weight", "bias") else f"the parameter {name}"
        out.append(
            _entry(
                call,
                "update",
                f"Update {what}: {what} minus learning rate times loss w.r.t. {what} (hg.SGD)",
                f"{sym} ← {sym} − {record.lr:g} · dL/d{sym}",
                Term(f"new {sym}", new, f"{call.path}.{name}"),
                (Term(sym, value), Term(f"dL/d{sym}", call.grads[name])),
            )
        )
    return out


# Activations: (forward formula, its words, backward formula, its words, backward operands),
# with {i} the input symbol, {o} the output's and {g} = dL/d{o}.
_Rule = Callable[[Any, bool], tuple[str, str, str, str, tuple[str, ...]]]
_Z_WORDS = "Loss w.r.t. pre-activation neuron output (Z)"


def _relu(layer, training):
    return (
        "{o} = max(0, {i})",
        "Activation: ReLU keeps the positive values and sets the rest to 0",
        "dL/d{i} = {g} ⊙ [{i} > 0]",
        _Z_WORDS + ": the gradient passes where {i} > 0 and stops where it is not",
        ("grad_out", "input"),
    )


def _leaky_relu(layer, training):
    a = f"{layer.alpha:g}"
    return (
        f"{{o}} = {{i}} where {{i}} > 0, else {a}·{{i}}",
        f"Activation: LeakyReLU keeps the positive values and scales the rest by α = {a}",
        f"dL/d{{i}} = {{g}} ⊙ (1 where {{i}} > 0, else {a})",
        _Z_WORDS + f": the gradient passes where {{i}} > 0 and is scaled by {a} where it is not",
        ("grad_out", "input"),
    )


def _sigmoid(layer, training):
    return (
        "{o} = σ({i}) = 1 / (1 + e^(−{i}))",
        "Activation: the sigmoid squashes each value into (0, 1)",
        "dL/d{i} = {g} ⊙ {o} ⊙ (1 − {o})",
        _Z_WORDS + ": σ′(Z) = σ(Z)(1 − σ(Z)), read from the output {o}",
        ("grad_out", "output"),
    )


def _tanh(layer, training):
    return (
        "{o} = tanh({i})",
        "Activation: tanh squashes each value into (−1, 1)",
        "dL/d{i} = {g} ⊙ (1 − {o}²)",
        _Z_WORDS + ": tanh′(Z) = 1 − tanh²(Z), read from the output {o}",
        ("grad_out", "output"),
    )


def _softmax(layer, training):
    return (
        "{o} = e^{i} / Σ_j e^{i}_j, row by row",
        "Activation: softmax turns each row into probabilities that sum to 1",
        "dL/d{i} = {o} ⊙ ({g} − Σ_j {g}_j · {o}_j)",
        _Z_WORDS + ": through softmax's Jacobian diag(A) − A·Aᵀ, row by row (each row's "
        "gradient minus its mean weighted by {o}, times {o})",
        ("grad_out", "output"),
    )


def _identity(layer, training):
    return (
        "{o} = {i}",
        "Activation: the identity passes the values through",
        "dL/d{i} = {g}",
        _Z_WORDS + ": the identity passes the gradient through",
        ("grad_out",),
    )


def _gelu(layer, training):
    if layer.approximate == "tanh":
        return (
            "{o} = ½·{i}·(1 + tanh u), u = √(2/π)·({i} + 0.044715·{i}³)",
            "Activation: GELU, tanh approximation",
            "dL/d{i} = {g} ⊙ (½(1 + tanh u) + ½·{i}·(1 − tanh² u)·√(2/π)·(1 + 3·0.044715·{i}²))",
            _Z_WORDS + ": the derivative of the tanh approximation",
            ("grad_out", "input"),
        )
    return (
        "{o} = {i} · Φ({i})",
        "Activation: GELU, each value times the probability Φ that a standard normal is below it",
        "dL/d{i} = {g} ⊙ (Φ({i}) + {i} · φ({i}))",
        _Z_WORDS + ": GELU′(Z) = Φ(Z) + Z·φ(Z), φ the standard normal density",
        ("grad_out", "input"),
    )


def _dropout_rule(layer, training):
    if not training or layer.p == 0:
        why = "evaluation mode" if not training else "p = 0"
        return (
            "{o} = {i}",
            f"Dropout is off ({why}): the values pass through",
            "dL/d{i} = {g}",
            "Loss w.r.t. dropout's input: the gradient passes through",
            ("grad_out",),
        )
    p, keep = f"{layer.p:g}", f"{1 / (1 - layer.p):g}"
    return (
        f"{{o}} = {{i}} ⊙ M, M = [U ≥ {p}] / (1 − {p}), U uniform in [0, 1)",
        f"Dropout: each value is zeroed with probability {p}, the others are scaled by {keep}",
        "dL/d{i} = {g} ⊙ M",
        "Loss w.r.t. dropout's input: the gradient flows only through the values kept, "
        f"scaled by {keep}",
        ("grad_out",),
    )


_ACTIVATIONS: dict[type, _Rule] = {
    ReLU: _relu,
    LeakyReLU: _leaky_relu,
    Sigmoid: _sigmoid,
    Tanh: _tanh,
    Softmax: _softmax,
    Identity: _identity,
    GELU: _gelu,
}


# Losses --------------------------------------------------------------------------------------


def _loss_entries(record: StepRecord, loss: Loss, out: str) -> list[Entry]:
    kind = type(loss).__name__
    n, size = len(record.pred), record.pred.size
    if _acts_as_loss(loss, MSELoss):
        p, a = "p", "a"
        value = (
            f"L = 1/(2N) · Σ (p − a)², N = {size}",
            "Loss: half the mean squared error, the notebook's ½(a − p)², averaged over the "
            f"N = {size} outputs",
        )
        grad = (
            f"dL/dp = (p − a) / N, N = {size}",
            "Loss w.r.t. output (the loss function's derivative)",
        )
        target_note = "the target (actual)"
    elif _acts_as_loss(loss, CrossEntropyLoss):
        p, a = "z", "Y"
        value = (
            f"L = 1/n · Σ_i (logsumexp(z_i) − Σ_c Y_ic · z_ic), n = {n}",
            "Loss: softmax cross-entropy of the logits z, averaged over the samples",
        )
        grad = (
            f"dL/dz = (softmax(z) − Y) / n, n = {n}",
            "Loss w.r.t. the logits z. Fused: the loss applies softmax itself, and the "
            "derivatives of its log and of softmax cancel to softmax(z) − Y, so no softmax "
            "Jacobian is needed",
        )
        target_note = "class labels" if record.target.ndim == 1 else "one-hot or probability rows"
    elif _acts_as_loss(loss, BCEWithLogitsLoss):
        p, a = "z", "y"
        value = (
            f"L = 1/N · Σ (max(z, 0) − z·y + log(1 + e^(−|z|))), N = {size}",
            "Loss: binary cross-entropy of the logits z, −y log σ(z) − (1 − y) log(1 − σ(z)) "
            "written so that nothing overflows, averaged over the N outputs",
        )
        grad = (
            f"dL/dz = (σ(z) − y) / N, N = {size}",
            "Loss w.r.t. the logits z. Fused: the loss applies the sigmoid itself, and the "
            "derivatives of its logs and of σ cancel to σ(z) − y",
        )
        target_note = "the targets, in [0, 1]"
    else:
        p, a = "p", "y"
        value = (None, f"Loss: {kind}'s own value")
        grad = (None, f"Loss w.r.t. output ({kind}'s own backward)")
        target_note = "the target"

    def entry(words, formula, result, operands) -> Entry:
        return Entry("loss", None, repr(loss), kind, words, formula, result, operands)

    p_term = Term(p, record.pred, f"= {out}, the network's output")
    a_term = Term(a, record.target, target_note)
    entries = [entry(value[1], value[0], Term("L", np.array(record.loss_value)), (p_term, a_term))]
    if _acts_as_loss(loss, MSELoss):
        entries.append(
            entry(
                "Error (actual − predicted), as the notebook prints it: the one number that "
                "the trace computes itself, for reading (the loss works with p − a)",
                "error = a − p",
                Term("error", record.target - record.pred),
                (p_term, a_term),
            )
        )
    entries.append(
        entry(
            grad[1], grad[0], Term(f"dL/d{p}", record.grad_pred, f"= dL/d{out}"), (p_term, a_term)
        )
    )
    return entries


def _acts_as_loss(loss: Loss, cls: type) -> bool:
    """Whether ``loss`` computes what ``cls`` computes (an instance keeping its methods)."""
    kind = type(loss)
    return isinstance(loss, cls) and all(
        getattr(kind, m) is getattr(cls, m) for m in ("_forward", "backward")
    )
