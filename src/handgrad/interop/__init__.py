"""handgrad with other libraries: ONNX export, and the scikit-learn estimators (imported by
``handgrad.sklearn``, not here: ``import handgrad`` never imports scikit-learn)."""

from .onnx import export_onnx

__all__ = ["export_onnx"]
