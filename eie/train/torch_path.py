"""Deep Compression's stages on the ``nn.Linear`` layers of any PyTorch module.

The same three stages as the numpy path (eie.train.deep_compression), on a model and a
training loop PyTorch owns:

1. iterative magnitude pruning with masked retraining: each round prunes every Linear
   weight to its scheduled density (:func:`eie.compress.prune` on the weight, so the
   numpy and PyTorch paths choose the same weights), zeroes the pruned ones, and masks
   their gradient with a tensor hook, so any optimiser and any loss see a zero gradient
   there; a fresh optimiser per round carries no momentum into a pruned weight;
2. k-means weight sharing per layer (:func:`eie.compress.share_weights`: linear
   initialisation, code 0 = 0.0 for the pruned weights);
3. centroid fine-tuning: after each backward pass the gradients of the weights that share
   a centroid are summed into that centroid's gradient (code 0 excluded), the optimiser
   steps the centroids, and the weights are rewritten as ``centroids[codes]``; the codes
   never change.  Biases and every parameter that is not a Linear weight keep training.

:func:`dsd_torch` runs DSD's sparse and re-dense steps (eie.train.dsd) on the same layers:
one pruning round to one sparsity ratio with the gradient hook of stage 1, then the hook
removed and every parameter retrained by a fresh optimiser at a lower rate, the restored
weights starting from the 0.0 the sparse step left them at.

torch is imported by the functions, never by ``import eie.train``: eie does not depend on
it (``pip install torch``).  Random draws are the caller's (seed torch and the data
loader); the stages themselves draw nothing.  The result is a list of
:class:`~eie.train.deep_compression.SharedLayer` (float32 codebook, uint8 codes, float32
bias) with their storage reports, ready for :mod:`eie.train.accelerator` or a network
directory.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from ..compress import StorageReport, prune, share_weights
from ..errors import InputError
from .deep_compression import SharedLayer, SharedMLP, density_schedule, storage_reports, total_storage
from .dsd import DSDConfig

__all__ = ["TorchCompression", "linear_layers", "deep_compress_torch", "dsd_torch"]


def _torch():
    try:
        import torch
    except ImportError:
        raise InputError("the PyTorch path needs torch (not an eie dependency): pip install torch") from None
    return torch


def _adam(torch, lr: float) -> Callable:
    """A default optimiser factory: Adam at ``lr`` over the parameters it is given."""
    return lambda params: torch.optim.Adam(params, lr=lr)


def linear_layers(model) -> list[tuple[str, object]]:
    """``(name, module)`` of every ``nn.Linear`` of ``model``, in ``named_modules`` order."""
    torch = _torch()
    found = [(name or type(m).__name__, m) for name, m in model.named_modules() if isinstance(m, torch.nn.Linear)]
    if not found:
        raise InputError(f"model must have at least one nn.Linear layer, not none in {type(model).__name__}")
    return found


@dataclass(eq=False)
class TorchCompression:
    """What :func:`deep_compress_torch` made: the shared layers (in ``linear_layers`` order,
    named by module name), their storage reports and the Table 2 total."""

    layers: list[SharedLayer]
    storage: list[StorageReport]
    total: dict

    @property
    def net(self) -> SharedMLP:
        return SharedMLP(self.layers)


def _run_epochs(model, batches: Iterable, loss_fn: Callable, optimizer, epochs: int,
                before_step: Callable | None, after_step: Callable | None, on_epoch: Callable | None = None) -> None:
    model.train()
    for epoch in range(1, epochs + 1):
        for x, y in batches:
            optimizer.zero_grad(set_to_none=True)
            loss_fn(model(x), y).backward()
            if before_step is not None:
                before_step()
            optimizer.step()
            if after_step is not None:
                after_step()
        if on_epoch is not None:
            on_epoch(epoch)


def deep_compress_torch(model, batches: Iterable, loss_fn: Callable, *, densities: Sequence[float],
                        prune_steps: int = 4, retrain_epochs: int = 2, bits: int = 4, finetune_epochs: int = 2,
                        make_optimizer: Callable | None = None, make_finetune_optimizer: Callable | None = None,
                        index_bits: int = 4, on_step: Callable | None = None) -> TorchCompression:
    """Prune, share and fine-tune the Linear layers of ``model`` in place.

    Parameters
    ----------
    model : torch.nn.Module
        A trained model with ``nn.Linear`` layers (the dense stage is the caller's).
    batches : iterable of (inputs, targets)
        One epoch of minibatches; iterated once per epoch (a ``DataLoader`` or a list).
    loss_fn : callable
        ``loss_fn(model(inputs), targets)`` -> scalar tensor.
    densities : sequence of float in (0, 1]
        The final fraction of weights kept, one per Linear layer (:func:`linear_layers` order).
    prune_steps, retrain_epochs : int
        Pruning rounds (the density falls geometrically, ``density ** (t / steps)``) and
        epochs of masked retraining per round.
    bits : int
        Code width: ``2**bits - 1`` centroids per layer plus the code 0 = 0.0.
    finetune_epochs : int
        Epochs of centroid fine-tuning.
    make_optimizer, make_finetune_optimizer : callable(params) -> torch.optim.Optimizer
        Fresh optimisers for each pruning round and for fine-tuning (defaults: Adam at
        5e-4 and 1e-4).
    index_bits : int
        Relative-index width of the storage account.
    on_step : callable(stage, model), optional
        Called after every optimiser step, with stage ``"retrain"`` or ``"finetune"``.
    """
    torch = _torch()
    names, layers = zip(*linear_layers(model), strict=True)
    if len(densities) != len(layers):
        raise InputError(f"densities must give one density per nn.Linear layer ({len(layers)}), not {len(densities)}")
    schedule = density_schedule(list(densities), prune_steps)
    make_optimizer = make_optimizer or _adam(torch, 5e-4)
    make_finetune_optimizer = make_finetune_optimizer or _adam(torch, 1e-4)
    step = {stage: (None if on_step is None else (lambda stage=stage: on_step(stage, model)))
            for stage in ("retrain", "finetune")}
    masks = _prune_rounds(torch, model, layers, schedule, batches, loss_fn, make_optimizer, retrain_epochs,
                          step["retrain"])
    shared = [share_weights(m.weight.detach().cpu().numpy(), mask.cpu().numpy(), bits) for m, mask in
              zip(layers, masks, strict=True)]
    centroids = _finetune(torch, model, layers, shared, batches, loss_fn, make_finetune_optimizer, finetune_epochs,
                          step["finetune"])
    out = []
    for name, m, c, (_, code) in zip(names, layers, centroids, shared, strict=True):
        bias = (np.zeros(m.out_features, np.float32) if m.bias is None
                else m.bias.detach().cpu().numpy().astype(np.float32))
        out.append(SharedLayer(name, c.detach().cpu().numpy().astype(np.float32), code, bias))
    reports = storage_reports(SharedMLP(out), index_bits)
    return TorchCompression(out, reports, total_storage(reports, sum(layer.bias.size for layer in out)))


def _prune_rounds(torch, model, layers, schedule, batches, loss_fn, make_optimizer, epochs, after_step,
                  on_epoch=None):
    """Stage 1: per round, prune every layer to its density among the weights still kept,
    zero the pruned weights, mask their gradient with a tensor hook, retrain with a fresh
    optimiser.  Returns the final masks (bool tensors)."""
    masks = [torch.ones_like(m.weight, dtype=torch.bool) for m in layers]
    hooks = []
    for round_densities in schedule:
        for h in hooks:
            h.remove()
        hooks = []
        for i, (m, d) in enumerate(zip(layers, round_densities, strict=True)):
            masks[i] = torch.from_numpy(prune(m.weight.detach().cpu().numpy(), d)).to(m.weight.device) & masks[i]
            with torch.no_grad():
                m.weight.mul_(masks[i])
            keep = masks[i].to(m.weight.dtype)
            hooks.append(m.weight.register_hook(lambda g, keep=keep: g * keep))
        _run_epochs(model, batches, loss_fn, make_optimizer(model.parameters()), epochs, None, after_step, on_epoch)
    for h in hooks:
        h.remove()
    return masks


def _finetune(torch, model, layers, shared, batches, loss_fn, make_optimizer, epochs, after_step):
    """Stage 3: the centroids of each layer (``shared``: per layer ``(codebook, codes)``) become
    tensors the optimiser steps with the summed weight gradients; the weights are rewritten
    as ``centroids[codes]`` after every step.  Returns the centroid tensors."""
    centroids = [torch.tensor(cb.astype(np.float32), dtype=m.weight.dtype, device=m.weight.device,
                              requires_grad=True) for (cb, _), m in zip(shared, layers, strict=True)]
    index = [torch.from_numpy(c.astype(np.int64)).to(m.weight.device) for (_, c), m in zip(shared, layers, strict=True)]

    def write_weights():
        with torch.no_grad():
            for m, c, idx in zip(layers, centroids, index, strict=True):
                m.weight.copy_(c[idx])

    def centroid_grads():
        for m, c, idx in zip(layers, centroids, index, strict=True):
            g = torch.zeros_like(c)
            if m.weight.grad is not None:
                g.index_add_(0, idx.reshape(-1), m.weight.grad.reshape(-1))
            g[0] = 0.0                      # the pruned weight 0.0 never moves
            c.grad = g
            m.weight.grad = None            # the weights are not the optimiser's parameters

    def after():
        write_weights()
        if after_step is not None:
            after_step()

    write_weights()
    weight_ids = {id(m.weight) for m in layers}
    others = [p for p in model.parameters() if p.requires_grad and id(p) not in weight_ids]
    _run_epochs(model, batches, loss_fn, make_optimizer(centroids + others), epochs, centroid_grads, after)
    return centroids


def dsd_torch(model, batches: Iterable, loss_fn: Callable, *, sparsity: float = 0.5, sparse_epochs: int = 2,
              redense_epochs: int = 2, make_optimizer: Callable | None = None,
              make_redense_optimizer: Callable | None = None, on_step: Callable | None = None,
              on_epoch: Callable | None = None) -> list[np.ndarray]:
    """DSD's sparse and re-dense steps on the Linear weights of a trained ``model``, in place
    (the dense step is the caller's training).  Returns the sparse step's masks (numpy bool,
    True = kept, in :func:`linear_layers` order).

    Parameters
    ----------
    model, batches, loss_fn
        As :func:`deep_compress_torch`.
    sparsity : float in [0, 1)
        The fraction of every Linear weight pruned in the sparse step (its smallest ``|w|``,
        :func:`eie.compress.prune`, the same choice as the numpy path).
    sparse_epochs, redense_epochs : int
        Epochs of the sparse step (gradient of the pruned weights masked by a tensor hook,
        so they stay exactly 0.0) and of the re-dense step (no mask, every parameter).
    make_optimizer, make_redense_optimizer : callable(params) -> torch.optim.Optimizer
        Fresh optimisers for the two steps (defaults: Adam at 1e-3, and at 1e-4: DSD's
        lower learning rate for the final dense step).
    on_step : callable(stage, model), optional
        Called after every optimiser step, with stage ``"sparse"`` or ``"redense"``.
    on_epoch : callable(stage, epoch), optional
        Called after every epoch (a log, a progress bar).
    """
    torch = _torch()
    DSDConfig(sparsity=sparsity, sparse_epochs=sparse_epochs, redense_epochs=redense_epochs)   # checks them
    _, layers = zip(*linear_layers(model), strict=True)
    make_optimizer = make_optimizer or _adam(torch, 1e-3)
    make_redense_optimizer = make_redense_optimizer or _adam(torch, 1e-4)
    step = {stage: (None if on_step is None else (lambda stage=stage: on_step(stage, model)))
            for stage in ("sparse", "redense")}
    epoch = {stage: (None if on_epoch is None else (lambda e, stage=stage: on_epoch(stage, e)))
             for stage in ("sparse", "redense")}
    masks = _prune_rounds(torch, model, layers, [[1.0 - sparsity] * len(layers)], batches, loss_fn, make_optimizer,
                          sparse_epochs, step["sparse"], epoch["sparse"])
    _run_epochs(model, batches, loss_fn, make_redense_optimizer(model.parameters()), redense_epochs, None,
                step["redense"], epoch["redense"])
    return [m.cpu().numpy() for m in masks]
