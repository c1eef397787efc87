"""``handgrad train --layers``: the hidden layers of a network as comma-separated items.

A width alone (``128,64``) is a dense network, built as it always was. Other items make a
convolutional network on data whose rows are images or signals (the built-in data sets say their
shape: 28×28×1, 8×8×1, 40×1); the rows stay flat in files and the network starts with a
``Reshape`` to that shape.
"""

from __future__ import annotations

import argparse
import math
import re
from dataclasses import dataclass

import numpy as np

from ..nn import (
    AvgPool1D,
    AvgPool2D,
    BatchNorm,
    Conv1D,
    Conv2D,
    Dense,
    Dropout,
    Flatten,
    GlobalAvgPool,
    Layer,
    LayerNorm,
    MaxPool1D,
    MaxPool2D,
    Reshape,
    Sequential,
)
from ..nn.layer import activations

#: What ``handgrad train --help`` says of ``--layers``.
HELP = (
    "the hidden layers, comma-separated: a width (128) is a dense layer and the activation; "
    "convCkK[sS][pP] a convolution of C filters K wide (2-D on images, 1-D on signals), stride S "
    "(1), padding P (default: the size is kept), then the activation; maxpoolK[sS], avgpoolK[sS] "
    "pool K-wide windows; gap averages each channel over all positions; flatten; bn batch norm; "
    "ln layer norm; dropP dropout with probability P. E.g. 128,64 (default), "
    "conv32k3,maxpool2,conv64k3,maxpool2,flatten,128 or conv16k5,bn,maxpool2,gap; "
    "'none' for a linear model"
)

#: The examples at the end of ``handgrad train --help``.
EXAMPLES = """\
examples of --layers:
  128,64                                   two dense layers (the default)
  conv32k3,maxpool2,conv64k3,maxpool2,128  a CNN: two 3×3 convolutions of 32 and 64 filters,
                                           each followed by a 2×2 max-pool, then a dense layer
                                           of 128 (the rows are flattened before it)
  conv32k3,bn,maxpool2,drop0.25,128        batch norm after the convolution's activation,
                                           dropout 0.25 after the pool
  conv32k5s2p2,gap                         a 5×5 convolution at stride 2 with padding 2, then
                                           global average pooling
  conv32k5,maxpool2,conv64k5,maxpool2,gap  on --dataset mnist1d the same items are 1-D layers

e.g.  handgrad train --dataset fashion-mnist --layers conv32k3,maxpool2,conv64k3,maxpool2,128 \\
          --epochs 10 --batch-size 128 --out fashion-cnn.safetensors
"""

_WIDTH = re.compile(r"\d+")
_CONV = re.compile(r"conv(\d+)k(\d+)(?:s(\d+))?(?:p(\d+))?")
_POOL = re.compile(r"(max|avg)pool(\d+)(?:s(\d+))?")
_DROP = re.compile(r"drop(\d*\.?\d+)")
_WORDS = ("gap", "flatten", "bn", "ln")
_EXPECTED = {
    "conv": "a convolution convCkK[sS][pP]: C filters, K wide, stride S, padding P (conv32k3)",
    "pool": "a pool maxpoolK[sS] or avgpoolK[sS] (maxpool2)",
    "drop": "dropout dropP with P in [0, 1) (drop0.25)",
    "width": "a width of at least 1 (128)",
    "any": (
        "a width (128) or a layer: convCkK, maxpoolK, avgpoolK, gap, flatten, bn, ln or dropP "
        "(see --help)"
    ),
}


def parse(text: str) -> tuple[int | str, ...]:
    """``"128,64"`` → ``(128, 64)``; ``"conv32k3,maxpool2,128"`` → ``("conv32k3", "maxpool2",
    128)``; ``""`` or ``"none"`` → no hidden layer. An item that is none of the spec's is an
    ``argparse.ArgumentTypeError`` naming it and what was expected there."""
    if text.strip().lower() in ("", "none"):
        return ()
    items: list[int | str] = []
    raw = text.split(",")
    for i, piece in enumerate(raw, start=1):
        item = piece.strip().lower()
        where = f"got {piece.strip()!r}" + (f" (item {i} of {text!r})" if len(raw) > 1 else "")
        if _WIDTH.fullmatch(item):
            if int(item) < 1:
                raise argparse.ArgumentTypeError(f"expected {_EXPECTED['width']}, {where}")
            items.append(int(item))
            continue
        kind = _kind(item)
        if kind is None:
            raise argparse.ArgumentTypeError(f"expected {_EXPECTED['any']}, {where}")
        numbers = _numbers(item)
        if kind == "drop":
            if not (numbers and 0 <= numbers[0] < 1):
                raise argparse.ArgumentTypeError(f"expected {_EXPECTED['drop']}, {where}")
        elif kind in ("conv", "pool") and (numbers is None or min(numbers) < 1):
            raise argparse.ArgumentTypeError(f"expected {_EXPECTED[kind]}, {where}")
        items.append(item)
    return tuple(items)


def _kind(item: str) -> str | None:
    if item in _WORDS:
        return item
    for prefix, kind in (("conv", "conv"), ("maxpool", "pool"), ("avgpool", "pool")):
        if item.startswith(prefix):
            return kind
    return "drop" if item.startswith("drop") else None


def _numbers(item: str) -> list[float] | None:
    """The numbers of a conv, pool or drop item, or None when it is malformed (padding 0 is
    allowed: it counts as 1 here, for the check that sizes are at least 1)."""
    for pattern in (_CONV, _POOL, _DROP):
        match = pattern.fullmatch(item)
        if match:
            if pattern is _DROP:
                return [float(match.group(1))]
            values = [g for g in match.groups() if g is not None and g not in ("max", "avg")]
            numbers = [float(v) for v in values]
            if pattern is _CONV and match.group(4) is not None:
                numbers[-1] = max(1.0, numbers[-1])  # p0 is allowed
            return numbers
    return None


def is_dense(items: tuple[int | str, ...]) -> bool:
    """Whether the spec is widths alone: a dense network, built as ``build_network`` always did."""
    return all(isinstance(item, int) for item in items)


@dataclass
class _Builder:
    """Adds layers one at a time, running one row of zeros through each so that the next one
    knows its input (channels, rank), and a layer that cannot take it is named with its item."""

    layers: list[Layer]
    row: np.ndarray
    dtype: np.dtype

    def add(self, layer: Layer, item: int | str, i: int) -> None:
        with layer.mode(False):
            try:
                out = layer.forward(self.row)
            except ValueError as exc:
                raise ValueError(f"--layers item {i} {str(item)!r}: {exc}") from None
        layer.release()
        self.layers.append(layer)
        self.row = out

    @property
    def shape(self) -> tuple[int, ...]:
        return self.row.shape[1:]


def build(
    items: tuple[int | str, ...],
    n_in: int,
    row_shape: tuple[int, ...] | None,
    n_out: int,
    activation: str,
    dropout: float,
    dtype: np.dtype,
    seeds: np.random.SeedSequence,
) -> Sequential:
    """The network of a spec with convolutions, pools or normalisation in it.

    Rows come flat, ``n_in`` values; when the first item needs images (a convolution or a
    pool), the network starts with ``Reshape(row_shape)``. A width after image-shaped layers is
    preceded by a ``Flatten``, and so is the output layer: a ``Dense`` to ``n_out``, from Glorot's
    uniform initialiser, as in a dense network. Convolutions and hidden Dense layers start from
    the initialiser suited to ``activation``; ``dropout`` follows each hidden Dense.
    """
    act = activations()[activation]
    weighted = sum(1 for item in items if isinstance(item, int) or item.startswith("conv"))
    drops = sum(1 for item in items if isinstance(item, int) or item.startswith("drop"))
    weight_seeds, dropout_seeds = seeds.spawn(2)
    weight_rngs = iter([np.random.default_rng(s) for s in weight_seeds.spawn(weighted + 1)])
    dropout_rngs = iter([np.random.default_rng(s) for s in dropout_seeds.spawn(drops)])
    net = _Builder([], np.zeros((1, n_in), dtype=dtype), dtype)
    image_items = [i for i, item in enumerate(items) if _needs_images(item)]
    flat_items = [i for i, item in enumerate(items) if isinstance(item, int) or item == "flatten"]
    if image_items and (not flat_items or image_items[0] < flat_items[0]):
        if row_shape is None or len(row_shape) < 2:
            i = image_items[0] + 1
            raise ValueError(
                f"--layers item {i} {items[i - 1]!r}: this layer needs images, but the data's "
                f"rows are {n_in} features, not images: use --dataset fashion-mnist, digits or "
                "mnist1d"
            )
        net.add(Reshape(row_shape), "(the rows as images)", 1)
    for i, item in enumerate(items, start=1):
        spatial = len(net.shape) - 1  # 2 for (h, w, c), 1 for (l, c), 0 for flat rows
        if isinstance(item, int):
            if spatial > 0:
                net.add(Flatten(), item, i)
            net.add(Dense(net.shape[0], item, init=act.default_init, rng=next(weight_rngs),
                          dtype=dtype), item, i)  # fmt: skip
            net.add(act(), item, i)
            if dropout:
                net.add(Dropout(dropout, rng=next(dropout_rngs)), item, i)
            continue
        if item in ("bn", "ln"):
            make = BatchNorm if item == "bn" else LayerNorm
            net.add(make(net.shape[-1], dtype=dtype), item, i)
            continue
        if item.startswith("drop"):
            net.add(Dropout(float(item[4:]), rng=next(dropout_rngs)), item, i)
            continue
        if item == "flatten":
            net.add(Flatten(), item, i)
            continue
        if spatial == 0:
            raise ValueError(
                f"--layers item {i} {item!r}: this layer needs images, but the rows are flat by "
                f"then (after {_last_item(items, i)!r})"
            )
        if item == "gap":
            net.add(GlobalAvgPool(), item, i)
            continue
        if item.startswith("conv"):
            filters, k, s, p = _CONV.fullmatch(item).groups()
            stride = int(s or 1)
            padding: int | str = (
                int(p) if p is not None else ("same" if stride == 1 else int(k) // 2)
            )
            conv = Conv2D if spatial == 2 else Conv1D
            layer = conv(net.shape[-1], int(filters), int(k), stride=stride, padding=padding,
                         init=act.default_init, rng=next(weight_rngs), dtype=dtype)  # fmt: skip
            net.add(layer, item, i)
            net.add(act(), item, i)
            continue
        kind, k, s = _POOL.fullmatch(item).groups()
        pools = {("max", 2): MaxPool2D, ("avg", 2): AvgPool2D, ("max", 1): MaxPool1D,
                 ("avg", 1): AvgPool1D}  # fmt: skip
        net.add(pools[(kind, spatial)](int(k), None if s is None else int(s)), item, i)
    if len(net.shape) > 1:
        net.add(Flatten(), "(before the output layer)", len(items) + 1)
    output = Dense(math.prod(net.shape), n_out, init="glorot_uniform", rng=next(weight_rngs),
                   dtype=dtype)  # fmt: skip
    net.add(output, "(the output layer)", len(items) + 1)
    return Sequential(net.layers)


def _needs_images(item: int | str) -> bool:
    return isinstance(item, str) and (
        item == "gap" or item.startswith(("conv", "maxpool", "avgpool"))
    )


def _last_item(items, i: int) -> str:
    """The item before item ``i`` that made the rows flat."""
    for item in reversed(items[: i - 1]):
        if isinstance(item, int) or item in ("flatten", "gap"):
            return str(item)
    return str(items[i - 2])
