"""Callbacks that come with handgrad: early stopping and the progress bar. The learning-rate
schedules are in :mod:`.schedules`, the checkpoints in :mod:`.checkpoints`."""

from __future__ import annotations

import shutil
import sys
import time
from typing import IO, Any

import numpy as np

from .. import _html
from .._validation import check_int, check_nonnegative
from .run import Callback, TrainingRun


class EarlyStopping(Callback):
    """Stop when the monitored figure has not improved for ``patience`` epochs.

    An epoch improves on the best so far when it is better by more than ``min_delta``
    (lower for losses and MAE, higher for accuracy and R²). With ``restore_best_weights`` the
    model ends with the weights of its best epoch, whether training stopped early or ran out of
    epochs.

    Parameters
    ----------
    monitor : str
        A key of the epoch logs; ``"val_loss"`` by default, ``"loss"`` when there is no validation.
    patience : int
        Epochs without improvement before stopping.
    min_delta : float
        The smallest change that counts as an improvement.
    restore_best_weights : bool
        End with the best epoch's weights.
    """

    def __init__(
        self,
        monitor: str | None = None,
        patience: int = 5,
        min_delta: float = 0.0,
        restore_best_weights: bool = True,
    ):
        if monitor is not None and not isinstance(monitor, str):
            raise TypeError(f"monitor must be the name of a logged figure, got {monitor!r}")
        self.monitor = monitor
        self.patience = check_int(patience, "patience", minimum=0)
        self.min_delta = check_nonnegative(min_delta, "min_delta")
        self.restore_best_weights = bool(restore_best_weights)
        self._reset()

    def _reset(self) -> None:
        self.best: float | None = None
        self.best_epoch: int | None = None
        self.wait = 0
        self.stopped_epoch: int | None = None
        self._best_weights: list[np.ndarray] | None = None

    def on_train_begin(self, run: TrainingRun) -> None:
        if self.monitor is None:
            self.monitor = "val_loss" if run.has_validation else "loss"
        if self.monitor.startswith("val_") and not run.has_validation:
            raise ValueError(
                f"EarlyStopping monitors {self.monitor!r}, but fit has no validation data; "
                "pass validation_data= or validation_split=, or monitor 'loss'"
            )

    def on_epoch_end(self, run: TrainingRun) -> None:
        if self.monitor not in run.logs:
            raise ValueError(
                f"EarlyStopping monitors {self.monitor!r}, which fit does not log; "
                f"it logs {sorted(run.logs)}"
            )
        value = run.logs[self.monitor]
        sign = -1.0 if run.higher_is_better(self.monitor) else 1.0
        if self.best is None or sign * (value - self.best) < -self.min_delta:
            self.best, self.best_epoch, self.wait = value, run.epoch, 0
            if self.restore_best_weights:
                self._best_weights = [p.data.copy() for p in run.model.parameters()]
        else:
            self.wait += 1
            if self.wait >= self.patience:
                self.stopped_epoch = run.epoch
                run.stop = True

    def on_train_end(self, run: TrainingRun) -> None:
        if self.restore_best_weights and self._best_weights is not None:
            for p, best in zip(run.model.parameters(), self._best_weights):
                p.data[...] = best

    def state_dict(self) -> dict[str, Any]:
        return {
            "best": self.best,
            "best_epoch": self.best_epoch,
            "wait": self.wait,
            "best_weights": self._best_weights,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.best = state["best"]
        self.best_epoch = state["best_epoch"]
        self.wait = int(state["wait"])
        weights = state.get("best_weights")
        self._best_weights = None if weights is None else [np.array(w) for w in weights]


class ProgressBar(Callback):
    """Progress on a stream (standard error by default).

    ``verbose=1``: a bar per epoch with the running loss and time left (tqdm), when the stream is
    a terminal and tqdm is installed; in a notebook (the default stream, inside a Jupyter kernel)
    an HTML bar per epoch that updates in place; otherwise, and with ``verbose=2``, one line per
    epoch. Nothing is animated when the output is a file or a pipe.
    """

    in_checkpoint = False
    rank_zero_only = True

    def __init__(self, verbose: int = 1, stream: IO[str] | None = None):
        self.verbose = check_int(verbose, "verbose", minimum=1)
        self.stream = stream
        self._bar = None

    def _out(self) -> IO[str]:
        return self.stream if self.stream is not None else sys.stderr

    def _animated(self) -> bool:
        if self.verbose != 1:
            return False
        isatty = getattr(self._out(), "isatty", None)
        if not (isatty and isatty()):
            return False
        try:
            import tqdm  # noqa: F401
        except ImportError:
            return False
        return True

    def on_epoch_begin(self, run: TrainingRun) -> None:
        self._start = time.perf_counter()
        if self.verbose == 1 and self.stream is None and in_notebook_kernel():
            self._bar = NotebookBar(run, notebook_display())
        elif self._animated():
            from tqdm import tqdm

            # A terminal that reports no width (a fresh pseudo-terminal) gets 80 columns.
            width = shutil.get_terminal_size((80, 24)).columns
            self._bar = tqdm(
                total=run.batches_per_epoch,
                desc=f"epoch {run.epoch + 1}/{run.epochs}",
                unit="batch",
                file=self._out(),
                leave=True,
                dynamic_ncols=width > 0,
                ncols=None if width > 0 else 80,
            )

    def on_batch_end(self, run: TrainingRun) -> None:
        if self._bar is not None:
            self._bar.update(1)
            if run.batch % 10 == 0 or run.batch + 1 == run.batches_per_epoch:
                self._bar.set_postfix(loss=f"{run.running_loss:.4f}", refresh=False)

    def on_epoch_end(self, run: TrainingRun) -> None:
        line = format_logs(run.logs)
        if self._bar is not None:
            self._bar.set_postfix_str(line, refresh=True)
            self._bar.close()
            self._bar = None
        else:
            print(f"epoch {run.epoch + 1}/{run.epochs} - {line}", file=self._out(), flush=True)

    def on_train_end(self, run: TrainingRun) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def on_train_error(self, run: TrainingRun, error: BaseException) -> None:
        self.on_train_end(run)


def in_notebook_kernel() -> bool:
    """Whether this process is a Jupyter kernel (IPython with a kernel attached): IPython is
    only looked for among the modules already imported, never imported here."""
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None else None
    return getattr(shell, "kernel", None) is not None


def notebook_display():
    """``show(html, text) -> update(html, text)``: IPython's display, redrawn in place; ``text``
    is what a reader without HTML sees."""
    from IPython.display import display

    def show(html: str, text: str):
        handle = display({"text/html": html, "text/plain": text}, raw=True, display_id=True)
        return lambda html, text: handle.update({"text/html": html, "text/plain": text}, raw=True)

    return show


_BAR_CSS = (
    ".hg-progress progress { width: 260px; height: 12px; vertical-align: middle; "
    "margin-right: 8px; }\n"
    ".hg-progress span { font-variant-numeric: tabular-nums; }\n"
)


class NotebookBar:
    """One epoch's bar in a notebook: an HTML ``<progress>`` and the running loss, redrawn in
    place at most 20 times an epoch and once at its end, with the epoch's figures."""

    def __init__(self, run: TrainingRun, show):
        self.total = run.batches_per_epoch
        self.title = f"epoch {run.epoch + 1}/{run.epochs}"
        self.every = max(1, self.total // 20)
        self.done = 0
        self.loss = ""
        self._update = show(*self._drawing(""))

    def _drawing(self, note: str) -> tuple[str, str]:
        """The bar as HTML, and as one line of text."""
        text = f"{self.title} · {self.done}/{self.total} batches" + (f" · {note}" if note else "")
        body = (
            f'<progress value="{self.done}" max="{self.total}"></progress>'
            f"<span>{_html.esc(text)}</span>"
        )
        return _html.fragment("hg-progress", body, _BAR_CSS), text

    def update(self, n: int) -> None:
        self.done += n
        if self.done % self.every == 0 or self.done == self.total:
            self._update(*self._drawing(self.loss))

    def set_postfix(self, loss: str, refresh: bool = False) -> None:
        self.loss = f"loss {loss}"

    def set_postfix_str(self, line: str, refresh: bool = True) -> None:
        self._update(*self._drawing(line))

    def close(self) -> None:
        """Nothing to release: the last drawing stays."""


def format_logs(logs: dict[str, float]) -> str:
    """``loss 0.1234 - accuracy 0.9500 - … - 1.2s`` for an epoch's logs."""
    parts = []
    for key, value in logs.items():
        if key == "time":
            continue
        if key == "lr":
            parts.append(f"lr {value:.3g}")
        else:
            parts.append(f"{key} {value:.4f}")
    if "time" in logs:
        parts.append(f"{logs['time']:.1f}s")
    return " - ".join(parts)
