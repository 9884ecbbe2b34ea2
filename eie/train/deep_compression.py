"""Deep Compression's three training stages on a numpy MLP (Han, Mao and Dally, ICLR 2016).

1. :func:`prune_and_retrain` -- iterative magnitude pruning with masked retraining: in
   ``steps`` rounds the density of layer l falls geometrically to its target
   (``target_l ** (t / steps)`` after round t), each round keeping the largest weights of
   the layer (:func:`eie.compress.prune`) and retraining with the gradient masked, so a
   pruned weight stays exactly 0.0 from the moment it is pruned (Han et al., "Learning both
   weights and connections", NIPS 2015: prune, retrain, repeat).
2. :func:`share_layers` -- weight sharing: the kept weights of each layer are clustered by
   1-D k-means with linear initialisation (:func:`eie.compress.share_weights`): a weight
   becomes a ``bits``-bit code into a ``2**bits``-entry codebook whose entry 0 is the pruned
   weight 0.0.
3. :func:`finetune_centroids` -- centroid fine-tuning: the network runs with
   ``W = codebook[codes]``; the gradient of each shared weight is the sum of the gradients
   of the weights that share it (:func:`centroid_gradient`); the centroids are updated,
   the codes never change, entry 0 stays 0.0.  Biases stay full-precision floats and keep
   training (docs/architecture.md §2: a layer eie compresses carries a float ``bias``).

The storage of the result is accounted by :class:`eie.compress.StorageReport`
(:func:`storage_reports`, with Huffman coding), in the layout of Deep Compression's Table 2.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from ..compress import StorageReport, prune, share_weights
from ..errors import InputError
from .mlp import MLP, train_epochs
from .optim import cosine_decay

__all__ = ["SharedLayer", "SharedMLP", "train_dense", "density_schedule", "prune_and_retrain", "masked_step", "share_layers",
           "centroid_gradient", "finetune_centroids", "storage_reports", "total_storage"]


@dataclass(eq=False)
class SharedLayer:
    """One layer after weight sharing: ``W = codebook[codes]`` (``codebook[0] = 0.0``), a
    float bias, and its name.  What a layer file of the network directory holds."""

    name: str
    codebook: np.ndarray       # (2**bits,) float32, entry 0 = 0.0
    codes: np.ndarray          # (out, in) uint8
    bias: np.ndarray           # (out,) float32, full precision

    def __post_init__(self):
        if self.codebook.ndim != 1 or self.codebook[0] != 0.0:
            raise InputError(f"layer {self.name}: codebook must be 1-D with codebook[0] = 0.0, not {self.codebook[:1]!r}")
        if self.codes.ndim != 2 or self.bias.shape != (self.codes.shape[0],):
            raise InputError(f"layer {self.name}: codes must be out x in and bias of length out, not "
                             f"{self.codes.shape} and {self.bias.shape}")

    @property
    def bits(self) -> int:
        return int(self.codebook.size - 1).bit_length()

    def weight(self) -> np.ndarray:
        return self.codebook[self.codes]

    def arrays(self) -> dict[str, np.ndarray]:
        """The arrays of the layer's ``.npz``: ``codebook``, ``codes``, ``bias`` [arch §2]."""
        return {"codebook": self.codebook, "codes": self.codes, "bias": self.bias}


@dataclass(eq=False)
class SharedMLP:
    """An MLP whose weights are shared: the layers of the compressed network."""

    layers: list[SharedLayer]

    def mlp(self) -> MLP:
        """The float network it computes (a fresh copy)."""
        return MLP([layer.weight() for layer in self.layers], [layer.bias.copy() for layer in self.layers])

    def accuracy(self, x: np.ndarray, y: np.ndarray) -> float:
        return self.mlp().accuracy(x, y)


def density_schedule(targets: Sequence[float], steps: int) -> list[list[float]]:
    """Per round t = 1..steps, the density of each layer: ``target ** (t / steps)``
    (a geometric fall, so each round prunes the same fraction of what is left)."""
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise InputError(f"prune steps must be an integer >= 1, not {steps!r}")
    for d in targets:
        if isinstance(d, bool) or not isinstance(d, (int, float)) or not 0 < d <= 1:
            raise InputError(f"a target density must be in (0, 1], not {d!r}")
    return [[float(d) ** (t / steps) for d in targets] for t in range(1, steps + 1)]


def masked_step(model: MLP, masks: list[np.ndarray] | None, optimizer, weight_decay: float = 0.0) -> Callable:
    """The training step: L2 weight decay added to the weight gradients, the gradient of
    every pruned weight set to 0 (after the decay, so nothing moves a pruned weight; no
    masks: dense training), then one optimiser step on weights and biases."""
    params = model.weights + model.biases
    wd = np.float32(weight_decay)

    def step(gw, gb):
        for i, (g, w) in enumerate(zip(gw, model.weights, strict=True)):
            if weight_decay:
                g += wd * w
            if masks is not None:
                g *= masks[i]
        optimizer.step(params, gw + gb)

    return step


def _steps(n: int, batch: int, epochs: int) -> int:
    return epochs * -(-n // batch)


def train_dense(model: MLP, x: np.ndarray, y: np.ndarray, *, epochs: int, batch: int, optimizer,
                rng: np.random.Generator, weight_decay: float = 0.0, decay: bool = True,
                on_epoch: Callable | None = None, wrap_step: Callable | None = None) -> list[float]:
    """The dense baseline, in place: minibatch training with L2 weight decay and (``decay``)
    the learning rate falling to 0 along a half cosine (:func:`eie.train.optim.cosine_decay`).
    Returns the loss of each epoch; ``on_epoch(epoch, loss)`` is called after each, and
    ``wrap_step(step)`` may wrap the training step (tests watch the weights with it)."""
    step = masked_step(model, None, optimizer, weight_decay)
    if decay:
        step = cosine_decay(optimizer, _steps(len(x), batch, epochs), step)
    if wrap_step is not None:
        step = wrap_step(step)
    return train_epochs(model, x, y, epochs=epochs, batch=batch, step=step, rng=rng, on_epoch=on_epoch)


def prune_and_retrain(model: MLP, x: np.ndarray, y: np.ndarray, *, targets: Sequence[float], steps: int,
                      epochs: int, batch: int, make_optimizer: Callable, rng: np.random.Generator,
                      weight_decay: float = 0.0, decay: bool = True, on_round: Callable | None = None,
                      wrap_step: Callable | None = None, on_epoch: Callable | None = None) -> list[np.ndarray]:
    """Stage 1, in place on ``model``: prune and retrain ``steps`` times; returns the masks.

    Each round prunes every layer to its scheduled density (:func:`density_schedule`; the
    largest ``|w|`` of the layer are kept, and since pruned weights are 0 they are never
    kept again while the density falls), zeroes the pruned weights, makes a fresh optimiser
    (``make_optimizer()``: no momentum carried over from weights that are now pruned) and
    retrains for ``epochs`` with :func:`masked_step` (``decay``: the learning rate of each
    round falls to 0 along a half cosine).  ``on_round(t, masks)`` is called after
    each round's retraining; ``wrap_step(step, masks)`` may wrap the training step (tests
    check the masks after every step with it); ``on_epoch(epoch, loss)`` is called after
    every epoch of every round.
    """
    if len(targets) != len(model.weights):
        raise InputError(f"targets must give one density per layer ({len(model.weights)}), not {len(targets)}")
    masks = [np.ones(w.shape, bool) for w in model.weights]
    for t, densities in enumerate(density_schedule(targets, steps), start=1):
        masks = [prune(w, d) & m for w, d, m in zip(model.weights, densities, masks, strict=True)]
        for w, m in zip(model.weights, masks, strict=True):
            w *= m
        optimizer = make_optimizer()
        step = masked_step(model, masks, optimizer, weight_decay)
        if decay:
            step = cosine_decay(optimizer, _steps(len(x), batch, epochs), step)
        if wrap_step is not None:
            step = wrap_step(step, masks)
        train_epochs(model, x, y, epochs=epochs, batch=batch, step=step, rng=rng, on_epoch=on_epoch)
        if on_round is not None:
            on_round(t, masks)
    return masks


def share_layers(model: MLP, masks: Sequence[np.ndarray], bits: int, names: Sequence[str]) -> SharedMLP:
    """Stage 2: per layer, k-means weight sharing of the kept weights
    (:func:`eie.compress.share_weights`: linear initialisation over ``[min, max]`` of the
    kept weights, ``2**bits - 1`` centroids, code 0 = 0.0 for the pruned ones)."""
    layers = []
    for w, b, m, name in zip(model.weights, model.biases, masks, names, strict=True):
        codebook, codes = share_weights(w, m, bits)
        layers.append(SharedLayer(name, codebook.astype(np.float32), codes, b.copy()))
    return SharedMLP(layers)


def centroid_gradient(codes: np.ndarray, grad_w: np.ndarray, n_codes: int) -> np.ndarray:
    """The gradient of each shared weight: ``g[k] = sum of grad_w where codes == k`` for
    k >= 1, and ``g[0] = 0`` (the pruned weight 0.0 never moves).  Float64 sums, returned
    in ``grad_w``'s dtype."""
    g = np.bincount(codes.reshape(-1), weights=grad_w.reshape(-1), minlength=n_codes)
    g[0] = 0.0
    return g.astype(grad_w.dtype)


def finetune_centroids(net: SharedMLP, x: np.ndarray, y: np.ndarray, *, epochs: int, batch: int, optimizer,
                       rng: np.random.Generator, decay: bool = True, on_step: Callable | None = None) -> SharedMLP:
    """Stage 3, in place on ``net``'s codebooks and biases: ``epochs`` of minibatch training
    where the parameters are the centroids (``codebook[1:]``) and the biases.  Each step runs
    the network with ``W = codebook[codes]``, sums the weight gradients per cluster
    (:func:`centroid_gradient`) and steps the optimiser on ``[codebooks..., biases...]``.
    The codes are never written.  ``decay``: the learning rate falls to 0 along a half
    cosine.  ``on_step(net)`` is called after every step."""
    model = net.mlp()
    codebooks = [layer.codebook for layer in net.layers]
    biases = model.biases
    params = codebooks + biases

    def step(gw, gb):
        grads = [centroid_gradient(layer.codes, g, layer.codebook.size) for layer, g in zip(net.layers, gw, strict=True)]
        optimizer.step(params, grads + gb)
        for layer, w, b in zip(net.layers, model.weights, biases, strict=True):
            np.take(layer.codebook, layer.codes, out=w)
            layer.bias[...] = b
        if on_step is not None:
            on_step(net)

    if decay:
        step = cosine_decay(optimizer, _steps(len(x), batch, epochs), step)
    train_epochs(model, x, y, epochs=epochs, batch=batch, step=step, rng=rng)
    return net


def storage_reports(net: SharedMLP, index_bits: int = 4) -> list[StorageReport]:
    """Deep Compression's Table 2 accounting of each layer (:class:`eie.compress.StorageReport`:
    relative indices of ``index_bits``, both streams Huffman-coded, float32 codebook)."""
    return [StorageReport.from_codes(layer.codes, layer.bits, index_bits, layer.name) for layer in net.layers]


def total_storage(reports: Sequence[StorageReport], bias_values: int = 0) -> dict:
    """The total row of Table 2: weights, density, bits and compression rates summed over
    the layers.  ``bias_values`` float32 biases are counted apart (``*_with_bias``): Table 2
    counts weights only, but a float32 bias is part of what the accelerator stores."""
    weights = sum(r.weights for r in reports)
    nonzeros = sum(r.nonzeros for r in reports)
    entries = sum(r.entries for r in reports)
    dense = sum(r.dense_bits for r in reports)
    pq = sum(r.compressed_bits for r in reports)
    pqh = sum(r.compressed_bits_huffman for r in reports)
    wq = sum(r.entries * r.weight_bits for r in reports)
    wh = sum(r.entries * r.weight_bits_huffman for r in reports)
    iq = sum(r.entries * r.index_bits for r in reports)
    ih = sum(r.entries * r.index_bits_huffman for r in reports)
    bias_bits = 32 * bias_values
    return {
        "name": "total", "weights": weights, "nonzeros": nonzeros, "density": nonzeros / weights,
        "entries": entries, "fillers": entries - nonzeros,
        "weight_bits": wq / entries, "weight_bits_huffman": wh / entries,
        "index_bits": iq / entries, "index_bits_huffman": ih / entries,
        "dense_bits": dense, "compressed_bits": pq, "compressed_bits_huffman": pqh,
        "dense_bytes": -(-dense // 8), "compressed_bytes": -(-pq // 8), "compressed_bytes_huffman": -(-pqh // 8),
        "pruning_rate": weights / nonzeros,
        "compression_rate": dense / pq, "compression_rate_huffman": dense / pqh,
        "bias_bits": bias_bits,
        "compression_rate_with_bias": (dense + bias_bits) / (pq + bias_bits),
        "compression_rate_huffman_with_bias": (dense + bias_bits) / (pqh + bias_bits),
    }
