"""Errors of handgrad's own (argument errors are the built-in ValueError and TypeError)."""


class ModelFileError(ValueError):
    """A model or checkpoint file that cannot be loaded: missing, truncated, corrupted, foreign,
    or describing something handgrad does not know. Loading never runs code from the file."""
