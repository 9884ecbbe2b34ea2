"""A numpy multi-layer perceptron: fully-connected layers with ReLU between them, trained
with softmax cross-entropy on minibatches.

Weights are ``out x in`` float32 matrices, the orientation of an eie layer (row i of a
matrix is output i [arch §2]), so a trained matrix is a layer without a transpose.  A
layer computes ``h @ W.T + b``; every layer but the last is followed by ReLU; the last
layer's outputs are the logits.  Float32 throughout: the BLAS ``sgemm`` does the work.

Every random thing takes a ``numpy.random.Generator`` or a seed; nothing reads global
state.  Given the same seed, the same data and the same BLAS (library and thread count),
a run is the same bit for bit.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from ..errors import InputError

__all__ = ["MLP", "softmax_cross_entropy", "minibatches", "train_epochs"]


def softmax_cross_entropy(logits: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
    """Mean cross-entropy of ``softmax(logits)`` against the labels ``y``, and its
    gradient with respect to the logits (``(softmax - onehot) / batch``)."""
    z = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(z)
    s = e.sum(axis=1, keepdims=True)
    rows = np.arange(len(y))
    loss = float(np.mean(np.log(s[:, 0]) - z[rows, y]))
    grad = e / s
    grad[rows, y] -= 1.0
    grad /= len(y)
    return loss, grad.astype(logits.dtype, copy=False)


@dataclass(eq=False)
class MLP:
    """Weights (``out x in``, float32) and biases (float32) of a stack of fully-connected
    layers, ReLU between them."""

    weights: list[np.ndarray]
    biases: list[np.ndarray]

    def __post_init__(self):
        if not self.weights or len(self.weights) != len(self.biases):
            raise InputError(f"an MLP needs one bias per weight matrix and at least one layer, not "
                             f"{len(self.weights)} weights and {len(self.biases)} biases")
        for i, (w, b) in enumerate(zip(self.weights, self.biases, strict=True)):
            if w.ndim != 2 or b.shape != (w.shape[0],):
                raise InputError(f"layer {i}: weight must be out x in and bias of length out, not {w.shape} and {b.shape}")
            if i and w.shape[1] != self.weights[i - 1].shape[0]:
                raise InputError(f"layer {i} has {w.shape[1]} inputs but layer {i - 1} has "
                                 f"{self.weights[i - 1].shape[0]} outputs")

    @classmethod
    def init(cls, sizes: Sequence[int], rng: np.random.Generator) -> MLP:
        """He-normal weights (standard deviation ``sqrt(2 / in)``, the scale that keeps a
        ReLU network's activations at unit size) and zero biases; ``sizes`` = inputs, hidden
        widths..., outputs (LeNet-300-100: 784, 300, 100, 10)."""
        if len(sizes) < 2 or any(isinstance(n, bool) or not isinstance(n, int) or n < 1 for n in sizes):
            raise InputError(f"sizes must be at least two integers >= 1, not {list(sizes)!r}")
        weights = [(rng.standard_normal((n_out, n_in), dtype=np.float32) * np.float32(np.sqrt(2.0 / n_in)))
                   for n_in, n_out in zip(sizes[:-1], sizes[1:], strict=True)]
        return cls(weights, [np.zeros(n, np.float32) for n in sizes[1:]])

    @property
    def sizes(self) -> list[int]:
        return [self.weights[0].shape[1]] + [w.shape[0] for w in self.weights]

    def copy(self) -> MLP:
        return MLP([w.copy() for w in self.weights], [b.copy() for b in self.biases])

    def forward(self, x: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
        """``(logits, inputs)``: ``inputs[l]`` is layer l's input (kept for the backward pass)."""
        h = x
        inputs = []
        last = len(self.weights) - 1
        for i, (w, b) in enumerate(zip(self.weights, self.biases, strict=True)):
            inputs.append(h)
            h = h @ w.T
            h += b
            if i < last:
                np.maximum(h, 0, out=h)
        return h, inputs

    def logits(self, x: np.ndarray, batch: int = 2048) -> np.ndarray:
        return np.concatenate([self.forward(x[i:i + batch])[0] for i in range(0, len(x), batch)])

    def accuracy(self, x: np.ndarray, y: np.ndarray) -> float:
        return float(np.mean(self.logits(x).argmax(axis=1) == y))

    def loss_and_grads(self, x: np.ndarray, y: np.ndarray) -> tuple[float, list[np.ndarray], list[np.ndarray]]:
        """Mean softmax cross-entropy of a minibatch and its gradients ``(loss, dW, db)``."""
        logits, inputs = self.forward(x)
        loss, g = softmax_cross_entropy(logits, y)
        gw: list[np.ndarray] = [None] * len(self.weights)   # type: ignore[list-item]
        gb: list[np.ndarray] = [None] * len(self.weights)   # type: ignore[list-item]
        for i in range(len(self.weights) - 1, -1, -1):
            gw[i] = g.T @ inputs[i]
            gb[i] = g.sum(axis=0)
            if i:
                g = g @ self.weights[i]
                g *= inputs[i] > 0           # ReLU: the input of layer i is the ReLU of layer i-1
        return loss, gw, gb


def minibatches(n: int, batch: int, rng: np.random.Generator) -> list[np.ndarray]:
    """A seeded shuffle of ``range(n)`` cut into batches of ``batch`` (the last may be shorter)."""
    order = rng.permutation(n)
    return [order[i:i + batch] for i in range(0, n, batch)]


def train_epochs(model: MLP, x: np.ndarray, y: np.ndarray, *, epochs: int, batch: int, step: Callable,
                 rng: np.random.Generator, on_epoch: Callable | None = None) -> list[float]:
    """Minibatch training: for every batch, ``step(dW, db)`` applies the gradients (the
    caller's optimiser, gradient mask or centroid update).  Returns the mean loss of each
    epoch; ``on_epoch(epoch, loss)`` (epoch = 1, 2, ...) is called after each (a log, a
    progress bar: it draws nothing from ``rng``, so it cannot change the run)."""
    losses = []
    for epoch in range(1, epochs + 1):
        total = 0.0
        # a diverging run overflows inside the epoch; it is reported once, at the epoch's end
        with np.errstate(over="ignore", invalid="ignore"):
            for idx in minibatches(len(x), batch, rng):
                loss, gw, gb = model.loss_and_grads(x[idx], y[idx])
                step(gw, gb)
                total += loss * len(idx)
        losses.append(total / len(x))
        if not np.isfinite(losses[-1]) or not all(np.all(np.isfinite(w)) for w in model.weights):
            raise InputError(f"training diverged in epoch {epoch} (mean loss {losses[-1]:g}, weights not all "
                             f"finite): lower the learning rates in --train-config (lr, retrain_lr, finetune_lr; for "
                             f"eie dsd also [dsd] sparse_lr and lr_drop)")
        if on_epoch is not None:
            on_epoch(epoch, losses[-1])
    return losses
