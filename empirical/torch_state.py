"""Process-wide torch settings, changed only inside context managers that restore them.

l2phase never leaves a global torch setting changed behind a caller's back (a notebook
that imports it keeps its own TF32 and thread settings): code that needs a setting wraps
the computation in one of these.

>>> import torch
>>> from l2phase.empirical.torch_state import tf32_disabled
>>> before = torch.backends.cudnn.allow_tf32
>>> with tf32_disabled():
...     torch.backends.cudnn.allow_tf32
False
>>> torch.backends.cudnn.allow_tf32 == before
True
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

import torch

__all__ = ["tf32_disabled", "torch_threads"]


@contextmanager
def tf32_disabled() -> Iterator[None]:
    """Full fp32 matmuls and convolutions on CUDA (TF32 off) inside the block; restored after.

    TF32 keeps 10 mantissa bits (~1e-3 relative error), too coarse for quantities such as
    the relative distance RD ~ 1e-3 of the initialisation diagram.  Also usable as a
    decorator (``@tf32_disabled()``).
    """
    matmul, cudnn = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    try:
        yield
    finally:
        torch.backends.cuda.matmul.allow_tf32 = matmul
        torch.backends.cudnn.allow_tf32 = cudnn


@contextmanager
def torch_threads(n: int) -> Iterator[None]:
    """torch's intra-op thread count set to ``n`` inside the block; restored after."""
    before = torch.get_num_threads()
    if n != before:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        if torch.get_num_threads() != before:
            torch.set_num_threads(before)
