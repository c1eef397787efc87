"""Seeded random splits of ``range(n)`` into a kept part and a held-out part.

``split_indices`` is the one place where handgrad decides which rows are held out, for a dataset's
test part as for a training run's validation part. The held-out rows are drawn at random, never
"the last rows", which in files sorted by class or by date would hold out a biased part.
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np

from .._validation import check_int, check_real, describe, make_rng

__all__ = ["split_indices"]


def check_fraction(value: Any, name: str) -> float:
    """``value`` as a float in the open interval (0, 1)."""
    out = check_real(value, name)
    if not 0 < out < 1:
        raise ValueError(f"{name} must be in (0, 1), got {value!r}")
    return out


def held_out_count(n: int, fraction: float) -> int:
    """``round(fraction · n)`` (Python's ``round``: halves go to the even neighbour), kept within
    ``[1, n − 1]`` so that neither part is empty."""
    return min(max(round(fraction * n), 1), n - 1)


def split_indices(
    n: int,
    fraction: float,
    rng: int | np.random.Generator | None,
    stratify: Any = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Split ``range(n)`` at random into ``(keep_idx, held_out_idx)``.

    ``m = round(fraction · n)`` indices are held out, at least 1 and at most ``n − 1``.

    With ``stratify`` (one label per index), each class ``k`` of ``c_k`` samples sends ``h_k`` of
    them to the held-out part, where ``h_k`` is as close as integers allow to its exact share
    ``q_k = m · c_k / n``: the counts minimise ``Σ_k (h_k − q_k)²`` subject to ``Σ_k h_k = m`` and,
    for every class with at least 2 samples, ``1 ≤ h_k ≤ c_k − 1``, so that it appears in both
    parts. When no class needs that guarantee, this is ``h_k = ⌊q_k⌋`` plus one for the classes with
    the largest remainders ``q_k − ⌊q_k⌋``. Classes that tie for a last unit are chosen at random.

    Parameters
    ----------
    n : int
        Number of indices, at least 2.
    fraction : float
        The share to hold out, in (0, 1).
    rng : int, Generator or None
        Source of randomness: a seed, a ``np.random.Generator`` (which is advanced), or None for
        fresh entropy. The same seed gives the same split.
    stratify : array of n labels, optional
        Class labels of any kind NumPy can sort (integers, strings, bools, ...).

    Returns
    -------
    keep_idx, held_out_idx : int arrays of shapes (n − m,) and (m,)
        Disjoint, together ``0 … n − 1``, each sorted ascending so that rows keep their order.

    Examples
    --------
    >>> keep, held = split_indices(10, 0.3, 0)
    >>> len(keep), len(held), sorted([*keep, *held]) == list(range(10))
    (7, 3, True)
    """
    n = check_int(n, "n", minimum=2)
    fraction = check_fraction(fraction, "fraction")
    rng = make_rng(rng, "rng")
    m = held_out_count(n, fraction)
    if stratify is None:
        held = np.zeros(n, dtype=bool)
        held[rng.permutation(n)[:m]] = True
    else:
        held = _stratified_mask(_class_codes(stratify, n), m, rng)
    return np.flatnonzero(~held), np.flatnonzero(held)


def _class_codes(stratify: Any, n: int) -> np.ndarray:
    """The labels as integer codes 0 … K−1, after checking they are n labels in a 1-D array."""
    if isinstance(stratify, (str, bytes, numbers.Number)):
        raise TypeError(f"stratify must be an array of {n} labels, got {describe(stratify)}")
    labels = np.asarray(stratify)
    if labels.ndim != 1 or len(labels) != n:
        raise ValueError(
            f"stratify must be a 1-D array of n = {n} labels, got shape {labels.shape}"
        )
    try:
        return np.unique(labels, return_inverse=True)[1].reshape(n)
    except TypeError as exc:
        raise TypeError(
            f"stratify must hold labels that can be sorted (numbers or strings), "
            f"got {describe(labels)} ({exc})"
        ) from exc


def _stratified_mask(codes: np.ndarray, m: int, rng: np.random.Generator) -> np.ndarray:
    """A boolean mask, True for the m held-out samples, holding ``h_k`` samples of class ``k``."""
    n = len(codes)
    counts = np.bincount(codes)
    low = (counts >= 2).astype(np.int64)  # classes that must appear in both parts
    high = counts - low
    if not low.sum() <= m <= high.sum():
        k2 = int(low.sum())
        raise ValueError(
            f"stratify has {k2} classes with 2 or more samples, and each must appear in both "
            f"parts, but fraction gives {m} held-out and {n - m} kept samples out of {n}; "
            f"both parts need at least {k2} samples"
        )
    # Held-out counts: the forced units `low`, then the m − Σ low cheapest further units. Raising
    # h_k from j − 1 to j adds (j − q_k)² − (j − 1 − q_k)² = 2(j − q_k) − 1 to Σ (h − q)², and
    # that grows with j, so taking the globally cheapest units takes a prefix of each class and
    # is the least-squares allocation. n·(j − q_k) = n·j − m·c_k keeps the costs exact integers.
    free = high - low
    unit_class = np.repeat(np.arange(len(counts)), free)
    unit_j = (
        low[unit_class] + 1 + np.arange(len(unit_class)) - np.repeat(np.cumsum(free) - free, free)
    )
    cost = n * unit_j - m * counts[unit_class]
    order = np.lexsort((rng.random(len(cost)), cost))  # random among equal costs
    take = m - int(low.sum())
    h = low + np.bincount(unit_class[order[:take]], minlength=len(counts))

    # Which samples: group the indices by class in a random order, hold out the first h_k of each.
    by_class = rng.permutation(n)
    by_class = by_class[np.argsort(codes[by_class], kind="stable")]
    starts = np.cumsum(counts) - counts
    sorted_codes = codes[by_class]
    rank = np.arange(n) - starts[sorted_codes]
    mask = np.zeros(n, dtype=bool)
    mask[by_class[rank < h[sorted_codes]]] = True
    return mask
