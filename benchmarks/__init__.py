"""handgrad's performance benchmarks: one MLP training workload, timed against PyTorch,
scikit-learn and the time its matrix products alone take. Run ``python benchmarks/run.py``."""
