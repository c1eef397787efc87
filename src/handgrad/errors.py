"""Errors of handgrad's own (argument errors are the built-in ValueError and TypeError)."""


class ModelFileError(ValueError):
    """A model or checkpoint file that cannot be loaded: missing, truncated, corrupted, foreign,
    or describing something handgrad does not know. Loading never runs code from the file."""


class TrainingDiverged(ArithmeticError):  # noqa: N818  (names an event, like StopIteration)
    """Training produced a non-finite loss or gradient (an overflow, or NaN).

    Raised before the optimizer applies the step that would have used it, so the model keeps the
    weights of the last finite step. ``epoch`` and ``batch`` (0-based) say where it happened.
    """

    def __init__(self, epoch: int, batch: int, reason: str, lr: float | None = None):
        self.epoch, self.batch, self.reason = epoch, batch, reason
        hint = f" (lr = {lr:g})" if lr is not None else ""
        super().__init__(
            f"training diverged at epoch {epoch + 1}, batch {batch + 1}: {reason}{hint}; the model "
            "keeps the weights of the last finite step. Try a smaller learning rate or "
            "gradient_clip="
        )
