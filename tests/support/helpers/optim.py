"""Helpers of the optimizer tests."""

import handgrad as hg


def run(make, grads, w0):
    """Apply the optimizer to one parameter for the given sequence of gradients."""
    p = hg.Parameter(w0)
    opt = make([p])
    out = []
    for g in grads:
        p.grad[...] = g
        opt.step()
        out.append(p.data.copy())
    return out
