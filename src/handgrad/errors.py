"""Errors of handgrad's own (argument errors are the built-in ValueError and TypeError)."""

from typing import ClassVar


class ModelFileError(ValueError):
    """A model or checkpoint file that cannot be loaded: missing, truncated, corrupted, foreign,
    or describing something handgrad does not know. Loading never runs code from the file."""


class TrainingDiverged(ArithmeticError):  # noqa: N818  (names an event, like StopIteration)
    """Training produced a non-finite loss or gradient (an overflow, or NaN).

    Raised before the optimizer applies the step that would have used it, so the model keeps the
    weights of the last finite step. ``epoch`` and ``batch`` (0-based) say where it happened.

    The message ends with advice in the words of ``fit``'s arguments; :meth:`message` gives it in
    another interface's words (the command line's ``--lr``). A weight decay ``λ`` with
    ``lr · λ ≥ 1`` is blamed rather than the learning rate: each step then takes ``lr · λ · w``
    off weights ``w``, which overshoots zero and grows without bound.
    """

    #: How ``fit`` spells each remedy; :meth:`message` takes another interface's spelling.
    OPTIONS: ClassVar[dict[str, str]] = {
        "lr": "lr=",
        "gradient_clip": "gradient_clip=",
        "weight_decay": "weight_decay=",
    }

    def __init__(
        self,
        epoch: int,
        batch: int,
        reason: str,
        lr: float | None = None,
        weight_decay: float = 0.0,
    ):
        self.epoch, self.batch, self.reason = epoch, batch, reason
        self.lr, self.weight_decay = lr, weight_decay
        super().__init__(self.message())

    def message(self, options: dict[str, str] | None = None) -> str:
        """The error, with the remedies named as ``options`` spells them (see ``OPTIONS``)."""
        spell = {**self.OPTIONS, **(options or {})}
        lr, decay = self.lr, self.weight_decay
        hint = f" (lr = {lr:g})" if lr is not None else ""
        text = (
            f"training diverged at epoch {self.epoch + 1}, batch {self.batch + 1}: "
            f"{self.reason}{hint}; the model keeps the weights of the last finite step. "
        )
        if lr is not None and decay and lr * decay >= 1:
            return text + (
                f"The weight decay is too strong: each step takes lr · weight_decay = "
                f"{lr * decay:g} times the weights off them, which overshoots zero; try "
                f"{spell['weight_decay']} below 1 / lr = {1 / lr:g}"
            )
        return text + (
            f"Try a smaller learning rate ({spell['lr']}) or clipping the gradient norm "
            f"({spell['gradient_clip']}, e.g. 1.0)"
        )
