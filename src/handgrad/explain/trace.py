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

A formula whose layer knows how (``Formula.element``) also works one element of its result out
with its numbers: for a convolution the window, the kernel, the sum of their products plus the
bias. The trace picks the element (the first sample, the middle of every other axis), fills the
rule's lines with the step's symbols and sets the layer's own value beside the worked one. A
residual block shows its inner layers, then the addition ``R = x + branch``; the gradient its
branch returns is ``dL/dx (through [path])``. State arrays (batch norm's running statistics)
appear with their values before the step and their new values, and are given back afterwards.

Each entry has its formula in symbols, in words (the notebook's: "Loss w.r.t. weight"), and its
terms: named arrays with their shapes and values. The formulas are the layers' and the loss's own
(their ``formulas`` method, :class:`handgrad.Formula`): this module knows no layer type. A layer
without formulas appears with its output, its parameters' gradients and dL/d(its input), and
"formula: not available for <its class>"; so does a subclass that rewrites ``forward`` or
``backward``, which its parent's formulas would misdescribe.

Every number is one the library computed: the step runs through the real ``forward``,
``loss.forward``, ``loss.backward``, ``backward`` and ``SGD.step``, each layer watched while it runs
(see :mod:`handgrad.explain.observe`), and nothing is recomputed another way. The one exception is
the notebook's *error* ``a − p``, which no layer computes; the trace subtracts it for ``MSELoss``
and says so. The model is left as it was: same parameter arrays and values, gradients, train/eval
mode, and random state.

Names: ``A0`` is the input; each layer with parameters starts a new number ``l``, as the notebook
numbers its layers, and holds ``Wl``, ``bl`` (for ``Dense``) or ``<attribute>l``; outputs are
``Zl`` for ``Dense``, ``Al`` for activations and dropout, ``Yl`` for other layers (each class's
``trace_letter``), primed when a letter repeats within a number (``A1``, ``A1′``).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import numpy as np

from .._validation import as_batch, check_bool, check_int, check_positive, describe
from ..nn.layer import TRACE_VALUES, Formula, Layer, Worked, describes_itself, index_text
from ..nn.losses import Loss, MSELoss
from ..nn.sequential import Sequential
from . import render
from .diagnostics import DEFAULT_LR, Diagnosis, diagnosis_of
from .entries import PHASES, Entry, Term, WorkedElement
from .notebook import backprop_network
from .observe import LayerCall, StepRecord, observe_step

__all__ = ["PHASES", "Entry", "Term", "Trace", "seed_trace", "trace"]


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
    #: What the loss states about the step (a classifier's target and predicted classes).
    loss_facts: tuple[tuple[str, str], ...] = ()
    #: The steps after this one, with ``trace(..., steps=N)``: N − 1 traces.
    later: tuple[Trace, ...] = ()

    @property
    def steps(self) -> tuple[Trace, ...]:
        """Every step traced, this one first: ``trace(..., steps=N)`` records N."""
        return (self, *self.later)

    @property
    def losses(self) -> list[float]:
        """The loss of each step, before its update."""
        return [step.loss_value for step in self.steps]

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

    def facts(self) -> list[tuple[str, str]]:
        """``(name, value)`` rows that head every rendering: model, loss, batch, update."""
        samples = f"{self.n_samples} sample" + ("s" if self.n_samples != 1 else "")
        mode = "training mode" if self.training else "evaluation mode"
        if self.lr is None:
            update = "none (no lr given)"
        elif not self.phase("update"):
            update = "none (the network has no parameters)"
        else:
            update = f"θ ← θ − {self.lr:g} · dL/dθ (hg.SGD)"
        return [
            ("model", " → ".join(f"[{p}] {r}" for p, r in self.layers) or "no layers"),
            ("loss", f"{self.loss}, L = {self.loss_value:.10g}"),
            ("batch", f"{samples}, {self.dtype}, {mode}"),
            ("update", update),
            *self.loss_facts,
        ]

    def _steps_fact(self) -> list[tuple[str, str]]:
        if not self.later:
            return []
        losses = ", ".join(f"{v:.6g}" for v in self.losses)
        return [("steps", f"{len(self.steps)} consecutive steps, L = {losses}; step 1 shown")]

    def to_text(self, **options: Any) -> str:
        """Plain text for a terminal (the first step of several, and the loss of each); the
        options are in :mod:`handgrad.explain.render`."""
        facts = self.facts() + self._steps_fact()
        return render.text_page(self.entries, facts, self.diagnosis, **options)

    def to_markdown(self, **options: Any) -> str:
        facts = self.facts() + self._steps_fact()
        return render.markdown_page(self.entries, facts, self.diagnosis, **options)

    def _html_steps(self) -> list[render.Step]:
        if not self.later:
            return []
        return [(s.entries, s.facts(), s.diagnosis, s.loss_value) for s in self.steps]

    def to_html(self, **options: Any) -> str:
        """One self-contained HTML page (inline style and script, nothing fetched), where
        clicking any element of a result shows how it was computed; with several steps, their
        loss curve and a slider between them."""
        return render.html_page(
            self.entries, self.facts(), self.diagnosis, steps=self._html_steps(), **options
        )

    def __str__(self) -> str:
        return self.to_text()

    def __repr__(self) -> str:
        """The trace in a few lines: its facts, how many formulas, and how to see them."""
        facts = "\n".join(f"  {key}: {value}" for key, value in self.facts())
        return (
            f"Trace of one training step, {len(self.entries)} formulas with their numbers\n"
            f"{facts}\n  (print it, or to_markdown() / to_html(), to see every formula)"
        )

    def _repr_html_(self) -> str:
        return render.html_body(
            self.entries, self.facts(), self.diagnosis, steps=self._html_steps()
        )

    def _repr_markdown_(self) -> str:
        return self.to_markdown()


def trace(
    model: Sequential,
    x: Any,
    target: Any,
    loss: Loss,
    lr: float | None = None,
    *,
    training: bool = True,
    steps: int = 1,
) -> Trace:
    """Trace one training step of ``model`` on the batch ``(x, target)``, or ``steps``
    consecutive ones.

    Parameters
    ----------
    model : Sequential (or any Layer)
        Any network, including layers of your own (nested ``Sequential``s are opened up).
    x : array (batch, features), or (batch, …) for a network on images
    target : the targets in the form ``loss`` takes
    loss : Loss
    lr : float, optional
        With a learning rate, the trace ends with the plain gradient-descent update
        ``θ ← θ − lr · dL/dθ`` made by ``hg.SGD``, and the new values. The diagnosis's update
        ratio uses it too (else ``1e-3``).
    training : bool
        Run the step in training mode (default, as ``fit`` does), or in evaluation mode.
    steps : int
        How many consecutive steps on the same batch to record (1): each starts from the
        weights the update before it left (so ``lr`` is needed for more than one). The trace
        is the first step's; ``trace.steps`` holds them all and ``trace.losses`` their losses,
        and the HTML page shows the loss curve and a slider between them.

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
    x = as_batch(x, "x")
    if len(x) == 0:
        raise ValueError("x is empty: trace needs at least one row")
    if lr is not None:
        lr = check_positive(lr, "lr")
    training = check_bool(training, "training")
    steps = check_int(steps, "steps", minimum=1)
    if steps > 1 and lr is None:
        raise ValueError(f"steps={steps} needs lr: each step starts from the previous update")
    if steps == 1:
        return _build(observe_step(model, x, target, loss, lr, training), loss, training)
    # The later steps run from the weights (and state, and random state) the earlier ones left;
    # then the model is put back as it was before the first.
    params = list({id(p): p for p in model.parameters()}.values())
    saved = [(p, p.data.copy()) for p in params]
    saved_state = [(a, a.data.copy()) for _, a in model.named_state()]
    generators = {id(g): (g, g.bit_generator.state) for _, g in model.generators()}
    try:
        traces = [
            _build(
                observe_step(model, x, target, loss, lr, training, advance=k < steps - 1),
                loss,
                training,
            )
            for k in range(steps)
        ]
    finally:
        for p, values in saved:
            p.data[...] = values
        for a, values in saved_state:
            a.data[...] = values
        for g, state in generators.values():
            g.bit_generator.state = state
    return dataclasses.replace(traces[0], later=tuple(traces[1:]))


def seed_trace(lr: float | None = 0.01, steps: int = 1) -> Trace:
    """The learner's notebook completed: its 3-layer back-propagation network
    (``handgrad.explain.notebook.backprop_network()``) traced on its input ``[1, 2, 3]`` and
    target 1 with ``MSELoss`` (½(a − p)²), and, with ``lr``, one update (``steps``
    consecutive steps, as :func:`trace` records them)."""
    model, x, target = backprop_network()
    return trace(model, x, target, MSELoss(), lr=lr, steps=steps)


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


def _own_formulas(layer: Layer, training: bool) -> tuple[Formula, ...] | None:
    """The layer's formulas, when they describe what it runs (see ``describes_itself``)."""
    return layer.formulas(training) if describes_itself(layer, "formulas") else None


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
    calls = record.calls
    # The symbols of each call's input and output. A block that is also a container (Residual)
    # comes after its inner layers: its input is that of the first of them.
    symbols: list[tuple[str, str]] = []
    numbers: list[int] = []
    own: list[tuple[Formula, ...] | None] = []
    current = "A0"
    for k, call in enumerate(calls):
        formulas = _own_formulas(call.layer, call.training)
        own.append(formulas)
        if call.params:
            names.next_number()
        numbers.append(names.number)
        out = names.take(call.layer.trace_letter if formulas is not None else "Y")
        inside = [i for i in range(k) if _inside(calls[i].path, call.path)]
        inp = symbols[inside[0]][0] if inside else current
        symbols.append((inp, out))
        current = out
    # dL/d(input) of each call; the first part of a block's branch, whose input is the block's,
    # gives only the branch's share of that gradient: "dL/dA2 (through [3])".
    grad_symbols = [f"dL/d{inp}" for inp, _ in symbols]
    branches: dict[int, dict[str, Term]] = {}
    for k, call in enumerate(calls):
        inside = [i for i in range(k) if _inside(calls[i].path, call.path)]
        if not inside:
            continue
        start = max(i for i in inside if symbols[i][0] == symbols[k][0])
        grad_symbols[start] = f"dL/d{symbols[k][0]} (through [{call.path}])"
        branches[k] = {
            "branch": Term(symbols[k - 1][1], calls[k - 1].output, f"[{call.path}]'s branch"),
            "branch_grad": Term(grad_symbols[start], calls[start].grad_in),
        }
    backward: list[list[Entry]] = []
    update: list[Entry] = []
    for k, call in enumerate(calls):
        params = _param_symbols(call, numbers[k], own[k] is not None)
        f, b = _layer_entries(
            call, symbols[k], grad_symbols[k], params, own[k], branches.get(k, {}), first=k == 0
        )
        forward += f
        backward.append(b)
        update += _update_entries(call, params, record)
    entries = [*forward, *_loss_entries(record, loss, current)]
    for b in reversed(backward):
        entries += b
    entries += update
    lr = record.lr
    return Trace(
        entries=tuple(entries),
        layers=tuple((call.path, repr(call.layer)) for call in calls),
        loss=repr(loss),
        loss_value=record.loss_value,
        lr=lr,
        n_samples=len(record.x),
        dtype=str(record.pred.dtype),
        training=training,
        diagnosis=diagnosis_of(record, DEFAULT_LR if lr is None else lr),
        loss_facts=tuple(loss.trace_facts(record.pred, record.target))
        if describes_itself(loss, "formulas", runs=("_forward", "backward"))
        else (),
    )


def _inside(path: str, block: str) -> bool:
    """Whether the layer at ``path`` is inside the block at ``block`` (``"3.layer.0"`` in
    ``"3"``)."""
    return path.startswith(block + ".")


def _param_symbols(call: LayerCall, number: int, own: bool) -> dict[str, str]:
    """The symbols of the call's parameters and state arrays: its class's letters and the number
    of its layer (``W2``, ``μ_run3``)."""
    letters = call.layer.trace_symbols if own else {}
    return {
        name: f"{letters.get(name, name)}{number}"
        for name in (*call.params, *call.state_before, *call.extras)
    }


def _element_index(shape: tuple[int, ...]) -> tuple[int, ...]:
    """The element a trace works out: the first sample, in the middle of every other axis (the
    middle of an image, away from the padding)."""
    if not shape:
        return ()
    return (0, *((d - 1) // 2 for d in shape[1:])) if len(shape) > 1 else ((shape[0] - 1) // 2,)


def _worked(f: Formula, values: dict[str, Term], result: Term, fill: dict[str, str]):
    """The formula's rule for any element of its result, its placeholders filled, and the
    element the trace works out; ``(None, None)`` without a rule."""
    if f.element is None or result.value.size == 0:
        return None, None
    operands = {u: values[u] for u in f.uses}

    def explain(index: tuple[int, ...]) -> WorkedElement:
        w = f.element({u: t.value for u, t in operands.items()}, tuple(index))
        cells = []
        for u, i in w.cells:
            term = operands.get(u)
            cells.append((term.symbol if term else u, index_text(i), _grid_cells(term, i)))
        return WorkedElement(
            element=result.symbol + (index_text(w.index) if w.index else ""),
            index=tuple(w.index),
            lines=tuple(line.format(**fill) for line in w.lines),
            value=float(w.value),
            computed=float(result.value[tuple(w.index)]),
            parts=tuple(Term(label.format(**fill), np.array(a)) for label, a in w.parts),
            cells=tuple((symbol, text) for symbol, text, _ in cells),
            grid=tuple((symbol, where) for symbol, _, where in cells if where),
        )

    return explain, explain(_element_index(result.shape))


def _grid_cells(term: Term | None, index: tuple) -> tuple[tuple[int, int], ...]:
    """The cells ``index`` picks in ``term``'s value, as ``(row, column)`` of the 2-D view a page
    shows (the first axis down, the others flattened across)."""
    if term is None or term.value.ndim == 0:
        return ()
    picked = np.zeros(term.shape, dtype=bool)
    picked[index] = True
    view = picked.reshape(1, -1) if picked.ndim == 1 else picked.reshape(picked.shape[0], -1)
    return tuple((int(r), int(c)) for r, c in np.argwhere(view))


def _entry(
    call: LayerCall, phase: str, words: str, formula, result, operands=(), worked=(None, None)
) -> Entry:
    kind = type(call.layer).__name__
    explain, element = worked
    return Entry(
        phase,
        call.path,
        repr(call.layer),
        kind,
        words,
        formula,
        result,
        tuple(operands),
        element,
        explain,
    )


def _input_grad_words(first: bool) -> str:
    if first:
        return "Loss w.r.t. the network's input (training does not need it: fit skips it)"
    return "Loss w.r.t. the layer's input, the previous layer's output (A)"


def _layer_entries(
    call, io: tuple[str, str], grad_in: str, params, formulas, branch: dict[str, Term], first
) -> tuple[list[Entry], list[Entry]]:
    """The forward and backward entries of one layer call, from its formulas, or its numbers
    alone when it has none."""
    inp, out = io
    dout = f"dL/d{out}"
    x_term, y_term = Term(inp, call.input), Term(out, call.output)
    values = {"input": x_term, "output": y_term, "grad_out": Term(dout, call.grad_out), **branch}
    for name, value in call.params.items():
        values[name] = Term(params[name], value, f"{call.path}.{name}")
    for name, value in call.state_before.items():
        values[name] = Term(params[name], value, f"{call.path}.{name}, before the step")
    for name, value in call.extras.items():
        values[name] = Term(params[name], value, f"{call.path}'s {name}, drawn in this step")
    results = {"output": y_term, "input_grad": Term(grad_in, call.grad_in)}
    for name, grad in call.grads.items():
        results[name] = Term(f"dL/d{params[name]}", grad, f"{call.path}.{name}.grad")
    for name, value in call.state_after.items():
        results[name] = Term(f"new {params[name]}", value, f"{call.path}.{name}")

    if formulas is None:  # a layer of the user's own: its numbers, without a formula
        kind = type(call.layer).__name__
        param_terms = [values[name] for name in call.params]
        fwd = _entry(
            call,
            "forward",
            f"Output of {kind} (its own forward)",
            None,
            y_term,
            (x_term, *param_terms),
        )
        bwd = [
            _entry(
                call,
                "backward",
                f"Loss w.r.t. {name} ({kind}'s own backward)",
                None,
                results[name],
                (values["grad_out"],),
            )
            for name in call.grads
        ]
        bwd.append(
            _entry(
                call,
                "backward",
                _input_grad_words(first),
                None,
                results["input_grad"],
                (values["grad_out"],),
            )
        )
        return [fwd], bwd

    fill = {"x": inp, "y": out, "dy": dout, "dx": grad_in, **params}
    fill.update({name: term.symbol for name, term in branch.items()})
    fwd, bwd = [], []
    for f in formulas:
        unknown = [u for u in f.uses if u not in values]
        if f.result not in results or unknown:
            raise ValueError(
                f"{type(call.layer).__name__}.formulas: a formula must give one of "
                f"{sorted(results)} and use values among "
                f"{[*TRACE_VALUES, *call.params, *call.state_before, *call.extras]}, "
                f"got result {f.result!r} using {list(f.uses)}"
            )
        words = _input_grad_words(first) if f.words is None else f.words.format(**fill)
        result = results[f.result]
        entry = _entry(
            call,
            f.phase,
            words,
            f.symbols.format(**fill),
            result,
            tuple(values[u] for u in f.uses),
            _worked(f, values, result, fill),
        )
        (fwd if f.phase == "forward" else bwd).append(entry)
    return fwd, bwd


def _update_entries(call: LayerCall, params: dict[str, str], record: StepRecord) -> list[Entry]:
    out = []
    for name, value in call.params.items():
        new = record.updated.get((call.path, name))
        if new is None:
            continue
        sym = params[name]
        what = name if name in ("weight", "bias") else f"the parameter {name}"
        result = Term(f"new {sym}", new, f"{call.path}.{name}")
        operands = (Term(sym, value), Term(f"dL/d{sym}", call.grads[name]))
        out.append(
            _entry(
                call,
                "update",
                f"Update {what}: {what} minus learning rate times loss w.r.t. {what} (hg.SGD)",
                f"{sym} ← {sym} − {record.lr:g} · dL/d{sym}",
                result,
                operands,
                _worked(
                    _update_rule(record.lr),
                    dict(zip(("old", "grad"), operands)),
                    result,
                    {"new": f"new {sym}", "old": sym, "grad": f"dL/d{sym}"},
                ),
            )
        )
    return out


def _update_rule(lr: float):
    """``θ_new[i] = θ[i] − lr · dL/dθ[i]``, as a Formula's element rule."""

    def rule(values, index):
        index = tuple(int(i) for i in index)
        old, grad = float(values["old"][index]), float(values["grad"][index])
        at = index_text(index)
        new = old - lr * grad
        return Worked(
            index=index,
            lines=(
                f"{{new}}{at} = {{old}}{at} − {lr:g} · {{grad}}{at} = {old:.7g} − {lr:g} · "
                f"{grad:.7g} = {new:.7g}",
            ),
            value=new,
            cells=(("old", index), ("grad", index)),
        )

    return Formula("update", "new", "", None, ("old", "grad"), rule)


# Losses --------------------------------------------------------------------------------------


def _loss_entries(record: StepRecord, loss: Loss, out: str) -> list[Entry]:
    """The loss's entries, from its formulas (its numbers alone for a loss of your own)."""
    kind = type(loss).__name__
    own = describes_itself(loss, "formulas", runs=("_forward", "backward"))
    formulas = loss.formulas(record.pred.shape, record.target) if own else ()
    p, a = loss.trace_symbols if own else ("p", "y")
    p_term = Term(p, record.pred, f"= {out}, the network's output")
    a_term = Term(a, record.target, loss.target_note(record.target) if own else "the target")
    results = {
        "value": Term("L", np.array(record.loss_value)),
        "grad": Term(f"dL/d{p}", record.grad_pred, f"= dL/d{out}"),
    }
    if any(f.result == "error" for f in formulas):
        results["error"] = Term("error", record.target - record.pred)  # computed for reading

    operands = {"pred": p_term, "target": a_term}

    def entry(words, formula, result, worked=(None, None)) -> Entry:
        explain, element = worked
        return Entry(
            "loss", None, repr(loss), kind, words, formula, result, (p_term, a_term), element,
            explain,
        )  # fmt: skip

    if not formulas:
        return [
            entry(f"Loss: {kind}'s own value", None, results["value"]),
            entry(f"Loss w.r.t. output ({kind}'s own backward)", None, results["grad"]),
        ]
    fill = {"p": p, "a": a}
    return [
        entry(
            f.words,
            f.symbols.format(**fill),
            results[f.result],
            _worked(f, operands, results[f.result], fill),
        )
        for f in formulas
    ]
