"""Helpers of the distributed-training tests."""

import pytest


def mpi():
    """``mpi4py.MPI``; the mpi extra, which the dev extra installs, provides it."""
    return pytest.importorskip("mpi4py.MPI", reason="needs the mpi extra (installed with dev)")
