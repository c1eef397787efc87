"""The ``handgrad`` command: train, evaluate, predict, summarise, trace and export networks.

``main(argv)`` parses the arguments, runs one subcommand and returns its exit status:

* 0: success;
* 2: bad usage or bad input (an unknown option, a number out of range, a missing or malformed
  file, a model file that is corrupted, an unknown column);
* 1: any other failure (a missing optional package, a full disk, a bug).

Every error is one line on standard error, ``handgrad <command>: error: <what>``, naming the
argument, what was expected and what came; never a traceback, unless ``--debug`` is given or
``HANDGRAD_DEBUG=1`` is set. Progress goes to standard error, results to standard output.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from typing import NoReturn

from .._version import __version__
from ..datasets import NAMES
from ..errors import ModelFileError, TrainingDiverged
from ..nn.layer import activations
from . import commands as subcommands
from . import layer_spec
from .data import LOSSES
from .train import OPTIMIZERS, SCHEDULES

#: Errors that mean the input or the arguments are wrong: exit status 2.
USER_ERRORS = (
    ValueError,
    TypeError,
    FileNotFoundError,
    IsADirectoryError,
    NotADirectoryError,
    PermissionError,
    ModelFileError,
    MemoryError,  # a network too large for the machine, as the options asked
)
DEBUG_ENV = "HANDGRAD_DEBUG"
#: The options of ``handgrad train`` that a divergence's advice names.
DIVERGENCE_OPTIONS = {
    "lr": "--lr",
    "gradient_clip": "--gradient-clip",
    "weight_decay": "--weight-decay",
}
#: The subcommands, each a function of the same name in :mod:`handgrad.cli.commands`.
COMMANDS = ("demo", "train", "evaluate", "predict", "summary", "trace", "export")


class UsageError(Exception):
    """What argparse would print before exiting with status 2, raised instead."""

    def __init__(self, prog: str, message: str):
        super().__init__(message)
        self.prog = prog


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(self.prog, message)


# Argument types: each names what it expected and what came ------------------------------------


def _number(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
    return value


def positive_float(text: str) -> float:
    value = _number(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a number > 0, got {text!r}")
    return value


def nonnegative_float(text: str) -> float:
    value = _number(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a number >= 0, got {text!r}")
    return value


def fraction(text: str) -> float:
    """A share in [0, 1)."""
    value = _number(text)
    if not 0 <= value < 1:
        raise argparse.ArgumentTypeError(f"expected a number in [0, 1), got {text!r}")
    return value


def _integer(text: str, minimum: int) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if value < minimum:
        raise argparse.ArgumentTypeError(f"expected an integer >= {minimum}, got {text!r}")
    return value


def positive_int(text: str) -> int:
    return _integer(text, 1)


def nonnegative_int(text: str) -> int:
    return _integer(text, 0)


def row_choice(text: str) -> int | str:
    """A row number from 1, or ``wrong`` / ``right``: the first row the model classifies so."""
    if text in ("wrong", "right"):
        return text
    try:
        return _integer(text, 1)
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(
            f"expected a row number from 1, 'wrong' or 'right', got {text!r}"
        ) from None


def delimiter(text: str) -> str:
    """One character; ``tab`` (or ``\\t``) for a tab."""
    value = "\t" if text in ("tab", "\\t") else text
    if len(value) != 1 or value in '\r\n"':
        raise argparse.ArgumentTypeError(
            f"expected one character (or 'tab'), other than a quote or a line break, got {text!r}"
        )
    return value


def column_names(text: str) -> tuple[str, ...]:
    """``"id, name"`` → ``("id", "name")``."""
    names = tuple(name.strip() for name in text.split(","))
    if not all(names):
        raise argparse.ArgumentTypeError(f"expected column names separated by commas, got {text!r}")
    return names


# The parser -----------------------------------------------------------------------------------

_EPILOG = "Run 'handgrad COMMAND --help' for a command's options."


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="handgrad",
        description="Neural networks on NumPy with every gradient derived by hand.",
        epilog=_EPILOG,
    )
    parser.add_argument("--version", action="version", version=f"handgrad {__version__}")
    parser.add_argument(
        "--debug", action="store_true", help=f"show the traceback of an error (or {DEBUG_ENV}=1)"
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    _add_help(commands)
    _add_demo(commands)
    _add_train(commands)
    _add_evaluate(commands)
    _add_predict(commands)
    _add_summary(commands)
    _add_trace(commands)
    _add_export(commands)
    for command in commands.choices.values():
        # Accepted after the command too; SUPPRESS keeps a --debug given before it.
        command.add_argument(
            "--debug", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS
        )
    return parser


def _add_help(commands) -> None:
    p = commands.add_parser(
        "help",
        help="this list, or a command's options ('handgrad help train')",
        description="Print the list of commands, or the options of COMMAND.",
    )
    p.add_argument("topic", nargs="?", metavar="COMMAND", choices=COMMANDS)


def _add_demo(commands) -> None:
    p = commands.add_parser(
        "demo",
        help="the notebook's network traced, then a digits classifier trained and saved",
        description="Print the learner's notebook completed (forward pass, loss, every gradient, "
        "one update), then train a classifier on handwritten digits with a progress bar, print "
        "its test accuracy, and save the model, its learning curves and its confusion matrix in "
        "an output folder. Only the files it names are written there.",
    )
    p.add_argument(
        "--out-dir",
        default="handgrad-demo",
        metavar="DIR",
        help="folder for the demo's files, created if missing (default: ./handgrad-demo)",
    )
    p.add_argument("--epochs", type=positive_int, default=30, help="training epochs (30)")
    p.add_argument("--seed", type=nonnegative_int, default=0, help="random seed (0)")
    _add_verbose(p)


def _add_verbose(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--verbose",
        type=int,
        choices=(0, 1, 2),
        default=1,
        help="0 silent; 1 a progress bar on a terminal, else one line per epoch (default); "
        "2 one line per epoch",
    )


def _add_threads(p) -> None:
    p.add_argument(
        "--threads",
        type=positive_int,
        default=1,
        metavar="N",
        help="threads of the matrix products (default 1: the products of these networks gain "
        "little from more, and on a busy machine more threads wait for each other)",
    )


def _add_train(commands) -> None:
    p = commands.add_parser(
        "train",
        help="train a network on a CSV/NPZ file or a built-in data set",
        description="Train a dense network on standardised features, or a convolutional one on\n"
        "images (--layers), and save it with what evaluate and predict need: the task, the\n"
        "class labels, the feature and target names, and the features' mean and scale from\n"
        "the training rows.",
        epilog=layer_spec.EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    source = p.add_argument_group("data")
    source.add_argument("data", nargs="?", metavar="DATA", help="a .csv or .npz file")
    source.add_argument("--dataset", choices=NAMES, help="a built-in data set instead of DATA")
    source.add_argument("--target", metavar="COL", help="the target column of a CSV (NPZ: array)")
    source.add_argument(
        "--task",
        choices=("auto", "classification", "regression"),
        default="auto",
        help="auto: text, integer or true/false targets are classes, other numbers regression",
    )
    source.add_argument(
        "--ignore",
        type=column_names,
        default=(),
        metavar="COLS",
        help="feature columns to leave out, e.g. id,name",
    )
    source.add_argument(
        "--limit", type=positive_int, metavar="ROWS", help="use only the first ROWS training rows"
    )
    _add_csv_options(source)
    net = p.add_argument_group("network")
    net.add_argument(
        "--layers", type=layer_spec.parse, default=(128, 64), metavar="SPEC", help=layer_spec.HELP
    )
    net.add_argument("--activation", choices=sorted(activations()), default="relu")
    net.add_argument(
        "--dropout", type=fraction, default=0.0, metavar="P", help="dropout after each hidden layer"
    )
    net.add_argument("--dtype", choices=("float32", "float64"), default="float32")
    fit = p.add_argument_group("training")
    fit.add_argument(
        "--loss",
        choices=LOSSES,
        help="default: cross_entropy for classification, mse for regression",
    )
    fit.add_argument("--optimizer", choices=sorted(OPTIMIZERS), default="adam")
    fit.add_argument(
        "--lr", type=positive_float, help="learning rate (default: 0.01 for sgd, else 0.001)"
    )
    fit.add_argument("--momentum", type=nonnegative_float, default=0.0, help="sgd and rmsprop")
    fit.add_argument("--weight-decay", type=nonnegative_float, default=0.0, metavar="L2")
    fit.add_argument("--epochs", type=positive_int, default=20)
    fit.add_argument("--batch-size", type=positive_int, default=64)
    fit.add_argument(
        "--schedule",
        choices=SCHEDULES,
        default="constant",
        help="cosine: the learning rate falls along half a cosine to 0 at the last epoch",
    )
    fit.add_argument(
        "--warmup", type=nonnegative_int, default=0, metavar="EPOCHS", help="linear warm-up"
    )
    fit.add_argument(
        "--val-split",
        type=fraction,
        default=0.1,
        metavar="FRACTION",
        help="share of the training rows held out for validation (0.1; 0 for none)",
    )
    fit.add_argument(
        "--gradient-clip",
        type=positive_float,
        metavar="NORM",
        help="before each step, scale the gradient down to this global norm if it is larger",
    )
    fit.add_argument(
        "--early-stopping",
        type=nonnegative_int,
        metavar="PATIENCE",
        help="stop after PATIENCE epochs without a better validation loss; keep the best weights",
    )
    fit.add_argument("--seed", type=nonnegative_int, default=0, help="random seed (0)")
    fit.add_argument(
        "--distributed",
        action="store_true",
        help="data-parallel training over MPI: launch with 'mpiexec -n N handgrad train ...'; "
        "--batch-size is then the batch of all ranks together",
    )
    _add_threads(fit)
    _add_verbose(fit)
    out = p.add_argument_group("output")
    out.add_argument("--out", metavar="MODEL", help="save the model here (.safetensors)")
    out.add_argument("--plot", metavar="PNG", help="write the learning curves here")
    out.add_argument(
        "--confusion", metavar="PNG", help="write the confusion matrix (test rows, else validation)"
    )
    out.add_argument("--checkpoint", metavar="PATH", help="save a checkpoint after every epoch")
    out.add_argument(
        "--resume", metavar="PATH", help="continue from a checkpoint (same command otherwise)"
    )


def _add_csv_options(p) -> None:
    p.add_argument(
        "--delimiter",
        type=delimiter,
        default=",",
        metavar="CHAR",
        help="the CSV file's field separator (default ','; 'tab' for a tab)",
    )
    p.add_argument(
        "--no-header",
        dest="header",
        action="store_false",
        help="the CSV file has no header row: its columns are named 1, 2, …",
    )


def _add_unknown_categories(p) -> None:
    p.add_argument(
        "--unknown-categories",
        choices=("error", "ignore"),
        default="error",
        help="a text cell of a category the model never saw: an error naming it (default), or "
        "encoded as all zeros",
    )


def _add_model_data(p: argparse.ArgumentParser) -> None:
    p.add_argument("model", metavar="MODEL", help="a model file written by 'handgrad train'")
    p.add_argument("data", nargs="?", metavar="DATA", help="a .csv or .npz file")
    p.add_argument("--dataset", choices=NAMES, help="a built-in data set's test part instead")
    p.add_argument("--target", metavar="COL", help="the target column (default: the model's)")
    _add_csv_options(p)
    _add_unknown_categories(p)


def _add_evaluate(commands) -> None:
    p = commands.add_parser(
        "evaluate",
        help="loss and metrics of a saved model on labelled data",
        description="Print the loss and metrics of MODEL on DATA (or a data set's test part).",
    )
    _add_model_data(p)
    p.add_argument("--confusion", metavar="PNG", help="write the confusion matrix here")
    _add_threads(p)


def _add_predict(commands) -> None:
    p = commands.add_parser(
        "predict",
        help="predictions of a saved model as CSV",
        description="Write one prediction per row of DATA as CSV: the class label (as in the "
        "training data, text too) for a classifier, the value for regression.",
    )
    _add_model_data(p)
    p.add_argument(
        "--out", metavar="CSV", help="write here instead of standard output ('-' for it too)"
    )
    p.add_argument(
        "--probabilities", action="store_true", help="add a column per class: its probability"
    )
    p.add_argument(
        "--keep",
        type=column_names,
        default=(),
        metavar="COLS",
        help="copy these columns of DATA (e.g. id) into the predictions, before them",
    )
    _add_threads(p)


def _add_summary(commands) -> None:
    p = commands.add_parser(
        "summary",
        help="layers, parameters and metadata of a saved model",
        description="Print MODEL's layers, output shapes and parameter counts, and what it was "
        "trained on.",
    )
    p.add_argument("model", metavar="MODEL")


def _add_trace(commands) -> None:
    p = commands.add_parser(
        "trace",
        help="every formula of one training step, with its numbers",
        description="Trace one training step: the forward pass, the loss, every gradient and "
        "one SGD update, each formula with the numbers handgrad computed (--steps N: N "
        "consecutive steps). Either the notebook's "
        "network (--example seed) or a saved MODEL on one row: --input gives its raw features "
        "as comma-separated numbers, or --data FILE --row N takes row N (from 1) of a CSV or NPZ "
        "file (--dataset NAME --row N: of a data set's test part). The row is standardised as "
        "the model's metadata says before the network sees it.",
    )
    p.add_argument("model", nargs="?", metavar="MODEL")
    p.add_argument("--example", choices=("seed",), help="the learner's notebook network")
    p.add_argument("--input", metavar="NUMBERS", help="the row's features, e.g. 0.1,2,3.5")
    p.add_argument("--data", metavar="FILE", help="take the row from this .csv or .npz file")
    p.add_argument("--dataset", choices=NAMES, help="take the row from a data set's test part")
    _add_csv_options(p)
    _add_unknown_categories(p)
    p.add_argument(
        "--row",
        type=row_choice,
        default=1,
        help="the row of --data or --dataset: a number from 1, or 'wrong' / 'right', the first "
        "row a classifier gets wrong or right",
    )
    p.add_argument("--target", metavar="VALUE", help="the class label, or the value(s)")
    p.add_argument(
        "--lr", type=positive_float, default=0.01, help="learning rate of the traced update (0.01)"
    )
    p.add_argument("--no-update", action="store_true", help="stop the trace after the gradients")
    p.add_argument(
        "--steps",
        type=positive_int,
        default=1,
        metavar="N",
        help="trace N consecutive SGD steps on the row, each from the weights the previous "
        "update left (at --lr; not with --no-update); the HTML page shows their loss curve and a "
        "slider, the text and Markdown their losses and the first step (1)",
    )
    p.add_argument("--seed", type=nonnegative_int, default=0, help="seed of the dropout masks")
    p.add_argument("--format", choices=("text", "md", "html"), default="text")
    p.add_argument(
        "--precision", type=positive_int, default=7, help="significant digits of the numbers (7)"
    )
    p.add_argument(
        "--max-entries",
        type=positive_int,
        default=16,
        help="longest axis shown whole; longer ones show their first and last 3 entries (16)",
    )
    p.add_argument("--out", metavar="FILE", help="write here instead of standard output")


def _add_export(commands) -> None:
    p = commands.add_parser(
        "export",
        help="write a saved model as ONNX",
        description="Write MODEL as an ONNX file that takes the raw features: the "
        "standardisation in the model's metadata is folded into the first layer.",
    )
    p.add_argument("model", metavar="MODEL")
    p.add_argument("--onnx", required=True, metavar="PATH", help="the ONNX file to write")
    p.add_argument("--opset", type=positive_int, default=13, help="ONNX opset, 9 to 28 (13)")


# Running --------------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``handgrad`` with ``argv`` (default: the process's arguments); return the exit status."""
    parser = build_parser()
    try:
        args, extra = parser.parse_known_args(argv)
        if extra:
            prog = f"handgrad {args.command}" if args.command else "handgrad"
            raise UsageError(prog, f"unrecognized arguments: {' '.join(extra)}")
    except UsageError as exc:
        _error_line(exc.prog, f"{exc} (see '{exc.prog} --help')")
        return 2
    except SystemExit as exc:  # --help and --version print, then exit 0
        return exc.code if isinstance(exc.code, int) else 0
    if args.command is None:
        _error_line("handgrad", f"choose a command: {', '.join(COMMANDS)} (see --help)")
        return 2
    if args.command == "help":
        return main([args.topic, "--help"] if args.topic else ["--help"])
    prog = f"handgrad {args.command}"
    debug = args.debug or os.environ.get(DEBUG_ENV, "") not in ("", "0")
    try:
        return getattr(subcommands, args.command)(args)
    except KeyboardInterrupt:
        _error_line(prog, "interrupted")
        return 130
    except USER_ERRORS as exc:
        if debug:
            raise
        _error_line(prog, _message(exc))
        return 2
    except TrainingDiverged as exc:
        if debug:
            raise
        _error_line(prog, " ".join(exc.message(DIVERGENCE_OPTIONS).split()))
        return 1
    except ImportError as exc:
        if debug:
            raise
        _error_line(prog, _message(exc))
        return 1
    except Exception as exc:
        if debug:
            raise
        _error_line(
            prog,
            f"{type(exc).__name__}: {_message(exc)} (run with --debug or {DEBUG_ENV}=1 "
            "for the traceback)",
        )
        return 1


def _message(exc: BaseException) -> str:
    """The exception's message on one line; an OSError without one says its file."""
    text = str(exc)
    if isinstance(exc, OSError) and exc.filename and exc.strerror:
        text = f"{exc.strerror}: {exc.filename!r}"
    return " ".join(text.split()) or type(exc).__name__


def _error_line(prog: str, message: str) -> None:
    print(f"{prog}: error: {message}", file=sys.stderr, flush=True)
