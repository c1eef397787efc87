"""The subcommands of ``handgrad``, one function each, taking the parsed arguments and returning
the exit status. Errors are raised (ValueError and friends); :func:`handgrad.cli.app.main` turns
them into one line and a status."""

from __future__ import annotations

import argparse
import csv
import io
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

from ..distributed import rank
from ..explain.trace import seed_trace
from ..explain.trace import trace as trace_step
from ..interop.onnx import export_onnx
from ..nn.dense import Dense
from ..nn.sequential import Sequential
from ..saving.model_files import load
from . import demo as demo_command
from .data import CsvOptions, ModelCard, check_file, encode_labels, parse_numbers, read_model_data
from .outputs import (
    STDOUT,
    check_output,
    check_outputs_distinct,
    replaced,
    write_atomically,
    write_text,
)
from .reports import (
    class_probabilities,
    format_scores,
    layers_text,
    loss_targets,
    predicted_classes,
    report_training,
    save_training_outputs,
    write_confusion,
)
from .train import TrainSpec, make_loss
from .train import train as run_training

# Shared helpers ---------------------------------------------------------------------------------


def _reading(args: argparse.Namespace) -> dict:
    """How a command reads its DATA: the CSV options, and unseen categories."""
    return {
        "csv_options": CsvOptions(args.delimiter, args.header),
        "unknown": args.unknown_categories,
    }


def _load_card(path: str) -> tuple[Sequential, ModelCard]:
    model = load(path)
    return model, ModelCard.from_metadata(model.metadata, path)


# train -----------------------------------------------------------------------------------------


def train(args: argparse.Namespace) -> int:
    if (args.data is None) == (args.dataset is None):
        raise ValueError(
            "give DATA (a .csv or .npz file) or --dataset NAME"
            + (", not both" if args.data is not None else "")
        )
    if args.resume is not None:
        check_file(args.resume, "--resume")
    outputs = {"--out": args.out, "--plot": args.plot, "--confusion": args.confusion}
    existing = {
        argument: check_output(path, argument, {"DATA": args.data, "--resume": args.resume})
        for argument, path in outputs.items()
    }
    # A run resumed from its own checkpoint goes on writing it: that one output may be an input.
    check_output(args.checkpoint, "--checkpoint", {"DATA": args.data})
    check_outputs_distinct({**outputs, "--checkpoint": args.checkpoint})
    spec = TrainSpec(
        data=args.data,
        dataset=args.dataset,
        target=args.target,
        task=args.task,
        ignore=args.ignore,
        layers=args.layers,
        activation=args.activation,
        dropout=args.dropout,
        loss=args.loss,
        optimizer=args.optimizer,
        lr=args.lr,
        momentum=args.momentum,
        weight_decay=args.weight_decay,
        epochs=args.epochs,
        batch_size=args.batch_size,
        val_split=args.val_split,
        early_stopping=args.early_stopping,
        gradient_clip=args.gradient_clip,
        schedule=args.schedule,
        warmup=args.warmup,
        seed=args.seed,
        dtype=args.dtype,
        limit=args.limit,
        checkpoint=args.checkpoint,
        resume=args.resume,
        csv=CsvOptions(args.delimiter, args.header),
        verbose=args.verbose,
        distributed=args.distributed,
        threads=args.threads,
    )
    speaks = True
    if args.distributed:
        speaks = rank() == 0  # every rank trains; only rank 0 reports and writes files
    result = run_training(spec, on_data=(lambda line: print(line, flush=True)) if speaks else None)
    if not speaks:
        return 0
    report_training(result)
    save_training_outputs(
        result, model=args.out, plot=args.plot, confusion=args.confusion, existing=existing
    )
    return 0


# evaluate, predict -------------------------------------------------------------------------------


def evaluate(args: argparse.Namespace) -> int:
    existed = check_output(args.confusion, "--confusion", {"MODEL": args.model, "DATA": args.data})
    model, card = _load_card(args.model)
    data = read_model_data(
        card, args.data, args.dataset, args.target, need_target=True, **_reading(args)
    )
    for note in data.notes:
        print(note, file=sys.stderr)
    X = card.standardizer.transform(data.X, model.dtype)
    loss = make_loss(card.loss)
    scores = model.evaluate(
        X, loss_targets(data.y, card.loss, model.dtype), loss=loss, threads=args.threads
    )
    print(f"{args.model} on {data.description}")
    print("  ".join(f"{k} {v:.4f}" for k, v in scores.items()))
    if args.confusion is not None:
        if card.task != "classification":
            raise ValueError("--confusion needs a classifier; this model does regression")
        logits = model.predict(X, threads=args.threads)
        write_confusion(args.confusion, data.y, logits, card.raw, data.description)
        print(f"wrote the confusion matrix to {replaced(args.confusion, existed)}")
    return 0


def predict(args: argparse.Namespace) -> int:
    to_stdout = args.out in (None, STDOUT)
    existed = to_stdout or check_output(args.out, "--out", {"MODEL": args.model, "DATA": args.data})
    model, card = _load_card(args.model)
    data = read_model_data(
        card,
        args.data,
        args.dataset,
        args.target,
        need_target=False,
        read_target=False,
        keep=args.keep,
        **_reading(args),
    )
    outputs = model.predict(card.standardizer.transform(data.X, model.dtype), threads=args.threads)
    if card.task == "classification":
        header = [card.target_name]
        indices = predicted_classes(outputs, card.loss)
        columns: list[list[Any]] = [[card.classes[i] for i in indices]]
        if args.probabilities:
            probs = class_probabilities(outputs, card.loss)
            header += [f"p({c})" for c in card.classes]
            columns += [[str(v) for v in probs[:, j]] for j in range(probs.shape[1])]
    else:
        if args.probabilities:
            raise ValueError("--probabilities needs a classifier; this model does regression")
        n = outputs.shape[1]
        header = [card.target_name] if n == 1 else [f"{card.target_name}_{j}" for j in range(n)]
        columns = [[str(v) for v in outputs[:, j]] for j in range(n)]
    clash = [name for name in args.keep if name in header]
    if clash:
        raise ValueError(
            f"--keep: {', '.join(repr(n) for n in clash)} is also the name of a predictions "
            "column; rename that column in DATA to keep it"
        )
    header = [*args.keep, *header]
    columns = [list(data.kept[name]) for name in args.keep] + columns
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(zip(*columns))
    if to_stdout:
        sys.stdout.write(buffer.getvalue())
    else:
        write_text(args.out, buffer.getvalue())
        print(f"wrote {len(outputs)} predictions to {replaced(args.out, existed)}")
    return 0


# summary -----------------------------------------------------------------------------------------


def summary(args: argparse.Namespace) -> int:
    model = load(args.model)
    n_features = model.metadata.get("n_features")  # a network that starts with a Reshape
    fixed = model.input_shape() is not None or type(n_features) is not int
    print(model.summary() if fixed else model.summary(n_features))
    meta = model.metadata
    if "cli_format" not in meta:
        if meta:
            print(f"metadata: {json.dumps(meta)[:2000]}")
        return 0
    card = ModelCard.from_metadata(meta, args.model)
    if card.task == "classification":
        shown = ", ".join(str(c) for c in card.classes[:10]) + (
            ", …" if len(card.classes) > 10 else ""
        )
        print(f"task: classification into {len(card.classes)} classes ({shown}), loss {card.loss}")
    else:
        print(f"task: regression, loss {card.loss}")
    names = card.feature_names
    shown = "" if names is None else f" ({', '.join(names[:5])}{', …' if len(names) > 5 else ''})"
    print(f"target: {card.target_name}; {card.n_features} features{shown}")
    if meta.get("columns") is not None:
        print("columns, as the training rows taught:")
        for line in card.encoder.describe():
            print(f"  {line}")
        ignored = meta.get("training", {}).get("ignore") or []
        for name in ignored:
            print(f"  {name}: ignored (--ignore)")
    print("input: standardised, (x − mean) / scale, with the training rows' mean and scale")
    t = meta.get("training", {})
    if t:
        print(
            f"trained on {meta.get('data')}: layers {layers_text(t['layers'])} {t['activation']}"
            f", dropout {t['dropout']}; {t['optimizer']} lr {t['lr']:g}, {t['schedule']} "
            f"schedule; {t['epochs_run']} of {t['epochs']} epochs, batch {t['batch_size']}; "
            f"seed {t['seed']}"
        )
    results = meta.get("results")
    if results:
        print(format_scores(results))
    return 0


# trace -----------------------------------------------------------------------------------------


def trace(args: argparse.Namespace) -> int:
    to_stdout = args.out in (None, STDOUT)
    existed = to_stdout or check_output(
        args.out, "--out", {"MODEL": args.model, "--data": args.data}
    )
    lr = None if args.no_update else args.lr
    if args.steps > 1 and lr is None:
        raise ValueError(
            f"--steps {args.steps} needs the update: each step starts from the weights the "
            "previous one left; drop --no-update (the update uses --lr)"
        )
    if args.example is not None:
        if args.model is not None:
            raise ValueError("give MODEL or --example seed, not both")
        for option in ("input", "data", "dataset", "target"):
            if getattr(args, option) is not None:
                raise ValueError(f"--{option} is for a MODEL; --example seed has its own input")
        step = seed_trace(lr=lr, steps=args.steps)
        title = "The learner's notebook network: " + (
            "one training step" if args.steps == 1 else f"{args.steps} training steps"
        )
    else:
        if args.model is None:
            raise ValueError("give MODEL (a model file) or --example seed")
        model, card = _load_card(args.model)
        x, target, where = _trace_row(args, card, model)
        for _, generator in model.generators():  # Dropout's masks, drawn from --seed
            generator.bit_generator.state = np.random.default_rng(args.seed).bit_generator.state
        X = card.standardizer.transform(x[None, :], model.dtype)
        step = trace_step(model, X, target, make_loss(card.loss), lr=lr, steps=args.steps)
        title = f"{Path(args.model).name} on {where}, standardised as (x − mean) / scale"
    if args.max_entries < 6:
        raise ValueError(
            f"--max-entries must be at least 6 (an elided axis keeps 3 entries at each end), "
            f"got {args.max_entries}"
        )
    options = {"precision": args.precision, "max_entries": args.max_entries}
    if args.format == "html":
        text = step.to_html(title=title, **options)
    elif args.format == "md":
        text = f"**{title}**\n\n{step.to_markdown(**options)}"
    else:
        text = f"{title}\n\n{step.to_text(**options)}"
    if to_stdout:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
    else:
        write_text(args.out, text)
        print(f"wrote the trace to {replaced(args.out, existed)}")
    return 0


def _trace_row(
    args: argparse.Namespace, card: ModelCard, model: Sequential
) -> tuple[np.ndarray, Any, str]:
    """The raw features of the traced row, its target in the loss's form, and where it is from."""
    given = [o for o in ("input", "data", "dataset") if getattr(args, o) is not None]
    if len(given) != 1:
        raise ValueError(
            "give the row with one of --input NUMBERS, --data FILE [--row N] or --dataset NAME "
            f"[--row N], got {len(given)}"
        )
    file_target = None
    if args.input is not None:
        x = parse_numbers(args.input, "--input")
        if len(x) != card.n_features:
            raise ValueError(
                f"--input: the model takes {card.n_features} features, got {len(x)} numbers"
            )
        where = "the given input"
    else:
        data = read_model_data(card, args.data, args.dataset, None, False, **_reading(args))
        row = args.row
        if isinstance(row, str):
            row = _classified_row(row, model, card, data)
        if row > len(data.X):
            raise ValueError(f"--row {row}: {data.description} has {len(data.X)} rows")
        x = np.asarray(data.X[row - 1], dtype=np.float64)
        if data.y is not None:
            file_target = data.y[row - 1 : row]
        how = "" if row == args.row else f", the first the model classifies {args.row}ly"
        where = f"row {row} of {data.description}{how}"
    if args.target is not None:
        if card.task == "classification":
            y = encode_labels([args.target.strip()], card.classes, "--target")
        else:
            y = parse_numbers(args.target, "--target")[None, :]
    elif file_target is not None:
        y = file_target
    else:
        raise ValueError("--target: give the row's class label (or value) to trace its loss")
    if card.loss == "cross_entropy":
        return x, y.reshape(1), where
    return x, np.asarray(y, dtype=np.float64).reshape(1, -1), where


def _classified_row(which: str, model: Sequential, card: ModelCard, data) -> int:
    """The first row (from 1) that the classifier gets ``"wrong"`` or ``"right"``."""
    if card.task != "classification":
        raise ValueError(f"--row {which}: only a classifier's rows are right or wrong")
    if data.y is None:
        raise ValueError(f"--row {which}: {data.description} has no targets to compare with")
    predicted = model.predict(card.standardizer.transform(np.asarray(data.X), model.dtype))
    hits = np.argmax(predicted, axis=1) == np.asarray(data.y).reshape(-1)
    rows = np.flatnonzero(~hits if which == "wrong" else hits)
    if len(rows) == 0:
        raise ValueError(
            f"--row {which}: the model classifies no row of {data.description} {which}ly"
        )
    return int(rows[0]) + 1


# export ----------------------------------------------------------------------------------------


def fold_standardization(model: Sequential, mean: np.ndarray, scale: np.ndarray) -> None:
    """Make the first Dense take raw features: ``((x − m) / s) · W + b = x · W′ + b′`` with
    ``W′ = W / s`` (row i of W divided by s_i) and ``b′ = b − (m / s) · W``. Computed in float64,
    then stored in the layer's dtype."""
    first = model.layers[0] if len(model) else None
    if not isinstance(first, Dense):
        raise ValueError("the model's first layer must be a Dense to take the raw features")
    W = first.weight.data.astype(np.float64)
    first.bias.data[...] = first.bias.data - (mean / scale) @ W
    first.weight.data[...] = W / scale[:, None]


def standardize_first(proto, mean: np.ndarray, scale: np.ndarray, dtype) -> None:
    """Put ``(input − mean) / scale`` in front of an exported graph (for a network whose first
    layer is not a Dense, such as a CNN's Reshape, into which nothing can be folded)."""
    import onnx

    graph = proto.graph
    for node in graph.node:
        node.input[:] = ["standardized" if name == "input" else name for name in node.input]
    graph.initializer.extend(
        [
            onnx.numpy_helper.from_array(mean.astype(dtype), "standardize.mean"),
            onnx.numpy_helper.from_array(scale.astype(dtype), "standardize.scale"),
        ]
    )
    make = onnx.helper.make_node
    centred = make("Sub", ["input", "standardize.mean"], ["centred"], name="centred")
    scaled = make("Div", ["centred", "standardize.scale"], ["standardized"], name="standardized")
    graph.node.insert(0, scaled)
    graph.node.insert(0, centred)


def export(args: argparse.Namespace) -> int:
    existed = check_output(args.onnx, "--onnx", {"MODEL": args.model})
    model = load(args.model)
    note = "no standardisation in its metadata: it takes the features as the model does"
    card = None
    if "cli_format" in model.metadata:
        card = ModelCard.from_metadata(model.metadata, args.model)
        categories = card.encoder is not None and any(
            c.kind == "categories" for c in card.encoder.columns
        )
        if isinstance(model.layers[0], Dense):
            fold_standardization(model, card.standardizer.mean, card.standardizer.scale)
            note = "it takes the raw features (the standardisation is folded into the first layer)"
            if categories:
                note = (
                    f"it takes the {card.n_features} encoded features, in the order 'handgrad "
                    "summary' lists (text columns one-hot, missing cells filled by the caller; "
                    "the standardisation is folded into the first layer)"
                )
            card = None
    shape = None if model.input_shape() is not None or card is None else card.n_features
    protos = []

    def write(tmp: str) -> None:
        proto = export_onnx(model, tmp, opset=args.opset, input_shape=shape)
        if card is not None:  # nothing to fold into (a CNN's Reshape): the graph standardises
            standardize_first(proto, card.standardizer.mean, card.standardizer.scale, model.dtype)
            Path(tmp).write_bytes(proto.SerializeToString())
        protos.append(proto)

    write_atomically(args.onnx, write)
    if card is not None:
        note = "it takes the raw features (the standardisation is the graph's first two nodes)"
    shape = protos[0].graph.input[0].type.tensor_type.shape
    dims = [d.dim_param or str(d.dim_value) for d in shape.dim]
    print(
        f"wrote {replaced(args.onnx, existed)}: ONNX opset {args.opset}, "
        f"input 'input' ({', '.join(dims)}); {note}"
    )
    return 0


# demo ------------------------------------------------------------------------------------------


def demo(args: argparse.Namespace) -> int:
    return demo_command.run(args)


__all__ = ["demo", "evaluate", "export", "predict", "summary", "trace", "train"]
