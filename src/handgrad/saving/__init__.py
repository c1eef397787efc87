"""Files: the safetensors format, and the model files written in it."""

from .model_files import load, save

__all__ = ["load", "save"]
