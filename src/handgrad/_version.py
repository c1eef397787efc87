"""The package version, kept here alone: ``pyproject.toml`` reads it, and so does every module that
writes it into a file, without importing the package."""

__version__ = "0.1.0"
