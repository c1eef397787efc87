"""Watching one training step of a ``Sequential`` as it runs, and leaving the model as it was.

:func:`observe_step` runs the library's own step on a batch::

    P  = model.forward(x)          every layer's forward
    L  = loss.forward(P, target)
    dP = loss.backward()
    model.backward(dP)             every layer's backward, last to first
    hg.SGD(params, lr).step()      only with a learning rate

For the duration of the step each layer's ``forward`` and ``backward`` are wrapped (by instance
attributes that shadow the methods), and each wrapper copies what goes in and what comes out, and
the parameters' values before ``forward`` and their ``.grad`` right after ``backward``. Nothing is
recomputed: every array recorded is a copy of one that the library's code produced.

Afterwards the model is as it was, even when a layer raised:

* the wrappers are gone (the instance attributes removed, or put back if the layer had its own);
* every parameter holds the same ``data`` and ``grad`` arrays (the same objects) with the same
  values: the update is made by ``hg.SGD``, recorded, then undone;
* each layer's ``training`` flag is what it was (the step runs in the mode asked for);
* every ``np.random.Generator`` a layer holds (Dropout's) is back in its state, so the next real
  step draws what it would have drawn without the trace;
* every state array (batch norm's running statistics, which a training-mode forward moves) holds
  the values it had.

A block that is both a leaf and a container (``Residual``: its leaves are its branch's layers,
then itself) is watched like any leaf: its forward is recorded when it returns, after its inner
layers', and its backward when it is called, before theirs, so the calls come in the order of
``model.leaves()``. It records its own parameters only; its inner layers record theirs.

What the layers cache for their next ``backward`` is that of the traced batch, as after any
forward.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .._validation import describe
from ..nn.layer import Layer
from ..nn.losses import Loss
from ..nn.parameter import Parameter
from ..optim.sgd import SGD

_MISSING = object()


@dataclass(eq=False)
class LayerCall:
    """One layer's part in the step: what its forward and backward received and returned.

    ``path`` is the layer's position in the model, ``"2"``, or ``"1.0"`` inside a nested
    ``Sequential``. ``params`` are the parameter values forward used and ``grads`` the ``.grad``
    values backward left, both by attribute name (``"weight"``, ``"bias"``).
    """

    path: str
    layer: Layer
    training: bool
    input: np.ndarray
    output: np.ndarray
    params: dict[str, np.ndarray]
    grad_out: np.ndarray | None = None
    grad_in: np.ndarray | None = None
    grads: dict[str, np.ndarray] = field(default_factory=dict)
    #: The layer's state arrays before and after its forward (batch norm's running statistics).
    state_before: dict[str, np.ndarray] = field(default_factory=dict)
    state_after: dict[str, np.ndarray] = field(default_factory=dict)
    #: What the layer's ``trace_values()`` gave after its forward (Dropout's mask).
    extras: dict[str, np.ndarray] = field(default_factory=dict)


@dataclass(eq=False)
class StepRecord:
    """Everything :func:`observe_step` saw, in the order it happened."""

    x: np.ndarray
    calls: list[LayerCall]
    pred: np.ndarray
    target: np.ndarray
    loss_value: float
    grad_pred: np.ndarray
    lr: float | None = None
    #: ``(path, attribute)`` of each parameter → its value after the SGD step.
    updated: dict[tuple[str, str], np.ndarray] = field(default_factory=dict)


def _copy(value: Any) -> np.ndarray:
    return np.array(value, copy=True)


def observe_step(
    model: Layer,
    x: np.ndarray,
    target: Any,
    loss: Loss,
    lr: float | None,
    training: bool,
    *,
    advance: bool = False,
) -> StepRecord:
    """Run one step of ``model`` on ``(x, target)`` and record it; see the module docstring.
    The arguments are assumed checked by the caller (``x`` a batch, ``lr`` None or > 0).

    With ``advance``, the step is kept as a real one would be: the parameters keep their
    update, the state arrays and the random generators move on; only the gradients and the
    watched methods are put back. ``trace(steps=N)`` runs its steps so, then puts the whole
    model back.
    """
    positions = model.leaves()
    layers = {id(layer): layer for _, layer in positions}
    params: list[Parameter] = list({id(p): p for p in model.parameters()}.values())

    saved_params = [(p, p.data, p.data.copy(), p.grad, p.grad.copy()) for p in params]
    saved_state = [(a, a.data.copy()) for _, a in model.named_state()]
    saved_methods = {
        (key, name): layer.__dict__.get(name, _MISSING)
        for key, layer in layers.items()
        for name in ("forward", "backward")
    }
    generators = {id(g): (g, g.bit_generator.state) for _, g in model.generators()}

    forwards: list[LayerCall] = []
    backwards: list = []

    def watch(layer: Layer) -> None:
        forward, backward = layer.forward, layer.backward
        # A block that is also a container records its own parameters; its layers theirs.
        own = len(layer.leaves()) == 1

        def watched_forward(x_in):
            values = {name: p.data.copy() for name, p in layer.named_parameters(recurse=own)}
            before = {name: a.data.copy() for name, a in layer.named_state(recurse=own)}
            given = _copy(x_in)
            y = _returned(forward(x_in), layer, "forward", "its output")
            call = LayerCall("", layer, layer.training, given, _copy(y), values)
            call.state_before = before
            call.state_after = {name: a.data.copy() for name, a in layer.named_state(recurse=own)}
            call.extras = {name: _copy(v) for name, v in layer.trace_values().items()}
            forwards.append(call)
            return y

        def watched_backward(grad_out):
            given = _copy(grad_out)
            slot = len(backwards)  # in the order the calls begin: a block before its layers
            backwards.append(None)
            grad_in = _returned(backward(grad_out), layer, "backward", "dL/d(its input)")
            grads = {name: p.grad.copy() for name, p in layer.named_parameters(recurse=own)}
            backwards[slot] = (layer, given, _copy(grad_in), grads)
            return grad_in

        layer.forward = watched_forward
        layer.backward = watched_backward

    with model.mode(training):
        try:
            for layer in layers.values():
                watch(layer)
            pred = model.forward(x)
            loss_value = loss.forward(pred, target)
            # The target as the loss uses it (labels as integers, (n,) as (n, 1)), by its own check.
            used_target = loss.check(pred, target)[1]
            grad_pred = loss.backward()
            model.backward(grad_pred)
            record = StepRecord(
                x=_copy(x),
                calls=_match(positions, forwards, backwards),
                pred=_copy(pred),
                target=_copy(used_target),
                loss_value=loss_value,
                grad_pred=_copy(grad_pred),
                lr=lr,
            )
            if lr is not None and params:  # a network without parameters has nothing to update
                where = {}
                for path, layer in positions:
                    for name, p in layer.named_parameters(recurse=len(layer.leaves()) == 1):
                        where.setdefault(id(p), (path, name))
                SGD(params, lr=lr).step()
                record.updated = {where[id(p)]: p.data.copy() for p in params}
            return record
        finally:
            for (key, name), own in saved_methods.items():
                layer = layers[key]
                if own is _MISSING:
                    layer.__dict__.pop(name, None)
                else:
                    layer.__dict__[name] = own
            # The optimizer may have rebound data and grad to views of a flat buffer of its own.
            for p, data, data_values, grad, grad_values in saved_params:
                if advance:
                    data_values = p.data.copy()
                p.data, p.grad = data, grad
                data[...] = data_values
                grad[...] = grad_values
            if not advance:
                for g, state in generators.values():
                    g.bit_generator.state = state
                for a, values in saved_state:
                    a.data[...] = values


def _returned(value: Any, layer: Layer, method: str, what: str) -> np.ndarray:
    if not isinstance(value, np.ndarray):
        raise TypeError(
            f"{type(layer).__name__}.{method} must return an ndarray ({what}), "
            f"got {describe(value)}"
        )
    return value


def _match(positions, forwards, backwards) -> list[LayerCall]:
    """Give each forward call its position and its backward call; they must run once each, in
    order (forward first to last, backward last to first), as ``Sequential`` runs them."""
    expected = [layer for _, layer in positions]
    ran_forward = [call.layer for call in forwards]
    ran_backward = [call[0] for call in backwards if call is not None]
    if ran_forward != expected or ran_backward != expected[::-1]:
        raise RuntimeError(
            "trace expected each layer's forward to run once, first to last, and its backward "
            f"once, last to first; forward ran {ran_forward} and backward ran {ran_backward}"
        )
    calls = []
    for (path, _), call, (_, grad_out, grad_in, grads) in zip(
        positions, forwards, reversed(backwards)
    ):
        call.path, call.grad_out, call.grad_in, call.grads = path, grad_out, grad_in, grads
        calls.append(call)
    return calls


def acts_as(layer: Layer, cls: type) -> bool:
    """Whether ``layer`` computes what ``cls`` computes: an instance of ``cls`` whose class keeps
    ``cls``'s ``forward`` and ``backward``. A subclass that rewrites either is its own layer."""
    kind = type(layer)
    return (
        isinstance(layer, cls)
        and kind.forward is cls.forward  # type: ignore[attr-defined]
        and kind.backward is cls.backward  # type: ignore[attr-defined]
    )
