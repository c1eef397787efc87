import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from handgrad.datasets.splits import split_indices


def check_partition(keep, held, n):
    assert keep.dtype.kind == "i" and held.dtype.kind == "i"
    assert np.all(np.diff(keep) > 0) and np.all(np.diff(held) > 0)  # sorted, no repeats
    assert np.intersect1d(keep, held).size == 0
    assert np.array_equal(np.sort(np.concatenate([keep, held])), np.arange(n))


@pytest.mark.parametrize(
    "n, fraction, m",
    [
        (10, 0.3, 3),
        (1797, 0.2, 359),  # 359.4
        (60000, 0.2, 12000),
        (5, 0.5, 2),  # round(2.5): halves go to the even neighbour
        (7, 0.5, 4),  # round(3.5)
        (3, 0.01, 1),  # round gives 0; at least one is held out
        (3, 0.99, 2),  # round gives 3; at least one is kept
        (2, 0.5, 1),
    ],
)
def test_sizes_disjointness_and_coverage(n, fraction, m):
    keep, held = split_indices(n, fraction, 0)
    assert len(held) == m and len(keep) == n - m
    check_partition(keep, held, n)


def test_same_seed_same_split_other_seed_other_split():
    a = split_indices(1000, 0.25, 3)
    b = split_indices(1000, 0.25, np.random.default_rng(3))
    c = split_indices(1000, 0.25, 4)
    assert np.array_equal(a[1], b[1]) and np.array_equal(a[0], b[0])
    assert not np.array_equal(a[1], c[1])


def test_a_generator_is_advanced_so_two_calls_differ():
    rng = np.random.default_rng(0)
    first, second = split_indices(100, 0.3, rng)[1], split_indices(100, 0.3, rng)[1]
    assert not np.array_equal(first, second)


def test_the_held_out_rows_are_not_the_last_rows():
    held = split_indices(100, 0.2, 0)[1]
    assert not np.array_equal(held, np.arange(80, 100))
    assert held.min() < 80  # some held-out rows come from the first 80


def test_stratified_counts_follow_the_largest_remainders():
    # counts 7, 5, 3 and m = round(0.4 · 15) = 6: exact shares 2.8, 2.0, 1.2, so floors 2, 2, 1
    # and the one unit left goes to the largest remainder, class 0.
    labels = np.repeat([0, 1, 2], [7, 5, 3])
    for seed in range(5):
        keep, held = split_indices(15, 0.4, seed, stratify=labels)
        check_partition(keep, held, 15)
        assert np.bincount(labels[held]).tolist() == [3, 2, 1]
        assert np.bincount(labels[keep]).tolist() == [4, 3, 2]


def test_exact_shares_are_kept_exactly_whatever_the_order_of_the_labels(rng):
    labels = rng.permutation(np.repeat(["cat", "dog", "eel"], [50, 30, 20]))
    held = split_indices(100, 0.1, 7, stratify=labels)[1]
    names, counts = np.unique(labels[held], return_counts=True)
    assert names.tolist() == ["cat", "dog", "eel"] and counts.tolist() == [5, 3, 2]


def test_ties_for_the_last_unit_are_broken_at_random():
    # counts 50, 30, 20 and m = 25: shares 12.5, 7.5, 5; either of the first two gets 13 or 8.
    labels = np.repeat([0, 1, 2], [50, 30, 20])
    outcomes = set()
    for seed in range(20):
        held = split_indices(100, 0.25, seed, stratify=labels)[1]
        outcomes.add(tuple(np.bincount(labels[held]).tolist()))
    assert outcomes == {(12, 8, 5), (13, 7, 5)}


@pytest.mark.parametrize(
    "fraction, held_counts, kept_counts",
    [
        (0.03, [1, 1, 1], [1, 2, 94]),  # shares 0.06, 0.09, 2.85: each small class still gets one
        (0.97, [1, 2, 94], [1, 1, 1]),  # and here each keeps one
    ],
)
def test_every_class_of_two_or_more_appears_in_both_parts(fraction, held_counts, kept_counts):
    labels = np.repeat([0, 1, 2], [2, 3, 95])
    keep, held = split_indices(100, fraction, 0, stratify=labels)
    assert np.bincount(labels[held], minlength=3).tolist() == held_counts
    assert np.bincount(labels[keep], minlength=3).tolist() == kept_counts


def test_a_class_of_one_sample_goes_to_one_part():
    labels = np.array([0, 0, 0, 0, 1, 1, 1, 1, 2])
    keep, held = split_indices(9, 0.5, 0, stratify=labels)
    check_partition(keep, held, 9)
    assert len(held) == 4
    assert (8 in keep) != (8 in held)
    assert all(set(labels[part]) >= {0, 1} for part in (keep, held))


def test_stratified_split_of_60000_labels_keeps_every_proportion(rng):
    labels = rng.integers(0, 10, 60000)
    keep, held = split_indices(60000, 0.2, 0, stratify=labels)
    check_partition(keep, held, 60000)
    share = 12000 * np.bincount(labels) / 60000
    assert np.all(np.abs(np.bincount(labels[held]) - share) < 1)


@given(
    counts=st.lists(st.integers(1, 30), min_size=1, max_size=12),
    fraction=st.floats(0.01, 0.99),
    seed=st.integers(0, 2**32 - 1),
)
def test_stratified_counts_are_the_least_squares_allocation(counts, fraction, seed):
    counts = np.array(counts)
    n = int(counts.sum())
    if n < 2:
        return
    m = min(max(round(fraction * n), 1), n - 1)
    low = (counts >= 2).astype(int)
    high = counts - low
    labels = np.repeat(np.arange(len(counts)), counts)
    if not low.sum() <= m <= high.sum():
        with pytest.raises(ValueError, match="must appear in both parts"):
            split_indices(n, fraction, seed, stratify=labels)
        return
    keep, held = split_indices(n, fraction, seed, stratify=labels)
    check_partition(keep, held, n)
    h = np.bincount(labels[held], minlength=len(counts))
    assert h.sum() == m and np.all(h >= low) and np.all(h <= high)
    # Σ (h − q)² is separable and convex, so h is optimal when no single unit moved from one class
    # to another lowers it. In units of 1/n², exact integers: e = n·h − m·c.
    e = n * h - m * counts
    for a in np.flatnonzero(h > low):
        for b in np.flatnonzero(h < high):
            if a != b:
                assert (e[a] - n) ** 2 + (e[b] + n) ** 2 >= e[a] ** 2 + e[b] ** 2


def test_too_many_classes_for_the_held_out_part():
    labels = np.repeat(np.arange(5), 2)
    with pytest.raises(ValueError) as info:
        split_indices(10, 0.1, 0, stratify=labels)
    assert str(info.value) == (
        "stratify has 5 classes with 2 or more samples, and each must appear in both parts, "
        "but fraction gives 1 held-out and 9 kept samples out of 10; "
        "both parts need at least 5 samples"
    )


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        (dict(n=1), ValueError, "n must be >= 2, got 1"),
        (dict(n=10.0), TypeError, r"n must be an integer, got 10.0 \(float\)"),
        (dict(fraction=0), ValueError, r"fraction must be in \(0, 1\), got 0"),
        (dict(fraction=1.0), ValueError, r"fraction must be in \(0, 1\), got 1.0"),
        (dict(fraction=-0.5), ValueError, r"fraction must be in \(0, 1\), got -0.5"),
        (dict(fraction="0.2"), TypeError, r"fraction must be a real number, got '0.2' \(str\)"),
        (dict(fraction=float("nan")), ValueError, "fraction must be finite, got nan"),
        (dict(rng="seed"), TypeError, "rng must be None, an int seed or a np.random.Generator"),
        (dict(rng=-1), ValueError, "rng must be a non-negative seed, got -1"),
        (
            dict(stratify=[0, 1, 0]),
            ValueError,
            r"stratify must be a 1-D array of n = 10 labels, got shape \(3,\)",
        ),
        (
            dict(stratify=np.zeros((10, 2))),
            ValueError,
            r"stratify must be a 1-D array of n = 10 labels, got shape \(10, 2\)",
        ),
        (dict(stratify="abc"), TypeError, "stratify must be an array of 10 labels, got 'abc'"),
        (
            dict(stratify=np.array([1, "a"] * 5, dtype=object)),
            TypeError,
            "stratify must hold labels that can be sorted",
        ),
    ],
)
def test_bad_arguments(kwargs, error, message):
    args = dict(n=10, fraction=0.2, rng=0) | kwargs
    with pytest.raises(error, match=message):
        split_indices(**args)
