"""Optimisers on lists of numpy arrays: SGD with momentum, and Adam.

Both update the parameters in place, one state array per parameter.  An optimiser sees
only the gradients it is given: Deep Compression's masks and centroid sums are applied by
the caller before :meth:`step` (eie.train.deep_compression), so a gradient that is zero at
a pruned weight from the first step on leaves that weight exactly where it is (SGD: the
velocity stays 0; Adam: both moments stay 0 and the update ``0 / (0 + eps)`` is 0).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..errors import InputError

__all__ = ["OPTIMIZERS", "SGD", "Adam", "make_optimizer", "cosine_decay"]

#: the optimisers :func:`make_optimizer` makes
OPTIMIZERS = ("sgd", "adam")


def _positive(name: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
        raise InputError(f"{name} must be a finite number > 0, not {value!r}")
    return float(value)


def _unit(name: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < 1:
        raise InputError(f"{name} must be in [0, 1), not {value!r}")
    return float(value)


@dataclass
class SGD:
    """``v = momentum * v + g; p -= lr * v`` (momentum 0: plain SGD, ``p -= lr * g``)."""

    lr: float
    momentum: float = 0.9

    def __post_init__(self):
        self.lr = _positive("lr", self.lr)
        self.momentum = _unit("momentum", self.momentum)
        self._v: list[np.ndarray] | None = None

    def step(self, params: list[np.ndarray], grads: list[np.ndarray]) -> None:
        if self._v is None:
            self._v = [np.zeros_like(p) for p in params]
        lr = params[0].dtype.type(self.lr) if params else self.lr
        for p, g, v in zip(params, grads, self._v, strict=True):
            if self.momentum:
                v *= v.dtype.type(self.momentum)
                v += g
                p -= lr * v
            else:
                p -= lr * g


@dataclass
class Adam:
    """Adam (Kingma and Ba) with bias correction; ``lr`` is the step size."""

    lr: float
    beta1: float = 0.9
    beta2: float = 0.999
    eps: float = 1e-8

    def __post_init__(self):
        self.lr = _positive("lr", self.lr)
        self.beta1 = _unit("beta1", self.beta1)
        self.beta2 = _unit("beta2", self.beta2)
        self.eps = _positive("eps", self.eps)
        self._m: list[np.ndarray] | None = None
        self._v: list[np.ndarray] | None = None
        self._t = 0

    def step(self, params: list[np.ndarray], grads: list[np.ndarray]) -> None:
        if self._m is None:
            self._m = [np.zeros_like(p) for p in params]
            self._v = [np.zeros_like(p) for p in params]
        self._t += 1
        b1, b2 = self.beta1, self.beta2
        scale = self.lr * math.sqrt(1 - b2 ** self._t) / (1 - b1 ** self._t)
        for p, g, m, v in zip(params, grads, self._m, self._v, strict=True):
            t = p.dtype.type
            m *= t(b1)
            m += t(1 - b1) * g
            v *= t(b2)
            v += t(1 - b2) * (g * g)
            p -= t(scale) * m / (np.sqrt(v) + t(self.eps))


def make_optimizer(name: str, lr: float):
    """A fresh optimiser (no state) by name: ``sgd`` (momentum 0.9) or ``adam``."""
    if name == "sgd":
        return SGD(lr)
    if name == "adam":
        return Adam(lr)
    raise InputError(f"optimizer must be one of {', '.join(OPTIMIZERS)}, not {name!r}")


def cosine_decay(optimizer, total_steps: int, step):
    """``step`` with the optimiser's learning rate falling from its initial value to 0 along
    a half cosine over ``total_steps`` calls (the rate of call i is
    ``lr0 * (1 + cos(pi * i / total_steps)) / 2``, i = 0, 1, ...): a stage ends on small
    steps, so the weights it hands on do not depend on the noise of its last minibatch."""
    lr0 = optimizer.lr
    count = [0]

    def wrapped(*args):
        optimizer.lr = lr0 * 0.5 * (1.0 + math.cos(math.pi * min(count[0], total_steps) / max(total_steps, 1)))
        count[0] += 1
        return step(*args)

    return wrapped
