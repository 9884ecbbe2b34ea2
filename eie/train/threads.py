"""BLAS threads during training: limited, because the machine is shared and because a
matrix product's rounding can depend on how it is split across threads (a run is
reproducible bit for bit for one BLAS library and one thread count)."""

from __future__ import annotations

import contextlib
import importlib.util

__all__ = ["blas_threads"]


@contextlib.contextmanager
def blas_threads(n: int | None):
    """Limit the BLAS libraries numpy uses to ``n`` threads inside the block (threadpoolctl);
    ``None``, or threadpoolctl not installed, leaves them as they are.  Yields whether the
    limit is in force."""
    if n is None or importlib.util.find_spec("threadpoolctl") is None:
        yield False
        return
    from threadpoolctl import threadpool_limits
    with threadpool_limits(limits=n, user_api="blas"):
        yield True
