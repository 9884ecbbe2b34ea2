"""DSD training on a numpy MLP: dense, sparse, dense again (Han et al., ICLR 2017).

1. **Dense** (:func:`dense_step`): ordinary training (:func:`~eie.train.deep_compression.train_dense`).
2. **Sparse** (:func:`sparse_step`): every layer is pruned to one sparsity ratio (its
   smallest ``|w|``, :func:`eie.compress.prune`, the function Deep Compression and
   ``eie compress`` use), the pruned weights are set to 0.0 and the network is retrained
   with their gradient masked (:func:`~eie.train.deep_compression.prune_and_retrain` with
   one round), so they stay exactly 0.0 for the whole step.
3. **Re-dense** (:func:`redense_step`): the mask is lifted; the restored connections start
   at 0.0 (the value the sparse step left them), and the whole network is retrained with
   the learning rate dropped to ``lr_drop`` times the dense step's.

The result has the size and architecture of the dense network.  Each step starts a fresh
optimiser (no momentum carried across a step boundary: the sparse step's momentum would
otherwise push pruned weights, the re-dense step's must start from 0 like the weights) and,
with ``lr_decay``, its learning rate falls to 0 along a half cosine, as every stage of
:mod:`eie.train` does.  The hyper-parameters of the dense step are the
:class:`~eie.train.example.TrainConfig` of Deep Compression (batch, optimiser, lr, weight
decay, dense epochs), those of the other two steps a :class:`DSDConfig`.  Every step takes
its own ``numpy.random.Generator`` for the minibatch order; nothing reads global state.
docs/dsd.md has the decisions.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np

from ..errors import InputError
from .deep_compression import prune_and_retrain, train_dense
from .example import TrainConfig, replace_fields
from .mlp import MLP
from .optim import make_optimizer

__all__ = ["DSDConfig", "EpochLog", "DSDResult", "dense_step", "sparse_step", "redense_step", "dsd_train", "STEPS"]

#: the three steps, in order
STEPS = ("dense", "sparse", "redense")


@dataclass(frozen=True)
class DSDConfig:
    """Hyper-parameters of DSD's sparse and re-dense steps; checks itself on construction.

    ``sparsity``: the fraction of every layer's weights pruned in the sparse step (one ratio
    for all layers, as the DSD paper does).  ``sparse_epochs`` / ``redense_epochs``: epochs
    of each step.  ``sparse_lr``: the sparse step's learning rate (None: the dense step's
    ``lr``).  ``lr_drop``: the re-dense step trains at ``lr_drop * lr`` (the paper: a tenth).
    """

    sparsity: float = 0.5
    sparse_epochs: int = 20
    redense_epochs: int = 20
    sparse_lr: float | None = None
    lr_drop: float = 0.3

    def __post_init__(self):
        s = self.sparsity
        if isinstance(s, bool) or not isinstance(s, (int, float)) or not 0 <= s < 1:
            raise InputError(f"sparsity must be a number in [0, 1), not {s!r}")
        for name in ("sparse_epochs", "redense_epochs"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 0:
                raise InputError(f"{name} must be an integer >= 0, not {v!r}")
        lr = self.sparse_lr
        if lr is not None and (isinstance(lr, bool) or not isinstance(lr, (int, float)) or not math.isfinite(lr)
                               or lr <= 0):
            raise InputError(f"sparse_lr must be a finite number > 0 (or absent: the dense lr), not {lr!r}")
        d = self.lr_drop
        if isinstance(d, bool) or not isinstance(d, (int, float)) or not 0 < d <= 1:
            raise InputError(f"lr_drop must be a number in (0, 1], not {d!r}")

    def replace(self, **changes) -> DSDConfig:
        return replace_fields(self, "DSD", changes)

    @classmethod
    def from_mapping(cls, data: Mapping) -> DSDConfig:
        return cls().replace(**dict(data))

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @property
    def epochs(self) -> int:
        """Epochs after the dense step (sparse + re-dense)."""
        return self.sparse_epochs + self.redense_epochs

    def lrs(self, train: TrainConfig) -> tuple[float, float]:
        """The learning rates ``(sparse, redense)`` for the dense step's ``train.lr``."""
        return (train.lr if self.sparse_lr is None else float(self.sparse_lr)), self.lr_drop * train.lr


@dataclass(frozen=True)
class EpochLog:
    """One epoch of one step: its mean training loss and (when validation images are
    given) the validation accuracy after it.  ``step``: a name of :data:`STEPS`, or of a
    baseline the caller trains (eie.train.dsd_example)."""

    step: str
    epoch: int
    loss: float
    val_accuracy: float | None = None

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


@dataclass(eq=False)
class DSDResult:
    """What :func:`dsd_train` leaves besides the trained model (changed in place): the
    sparse step's masks (True = kept) and the per-epoch log of the three steps."""

    masks: list[np.ndarray]
    log: list[EpochLog]


def epoch_logger(step: str, model: MLP, val: tuple[np.ndarray, np.ndarray] | None, log: list[EpochLog],
                 on_epoch: Callable | None) -> Callable:
    """The ``on_epoch(epoch, loss)`` of :func:`eie.train.mlp.train_epochs` that appends an
    :class:`EpochLog` of ``step`` to ``log`` and passes it to ``on_epoch``."""
    def record(epoch: int, loss: float) -> None:
        entry = EpochLog(step, epoch, float(loss), None if val is None else model.accuracy(*val))
        log.append(entry)
        if on_epoch is not None:
            on_epoch(entry)
    return record


def dense_step(model: MLP, x: np.ndarray, y: np.ndarray, *, train: TrainConfig, rng: np.random.Generator,
               val=None, log: list[EpochLog] | None = None, on_epoch: Callable | None = None,
               epochs: int | None = None, step_name: str = "dense") -> list[EpochLog]:
    """D: ``train.dense_epochs`` (or ``epochs``) of dense training at ``train.lr``, in place.
    ``val``: ``(x_val, y_val)`` scored after every epoch.  Returns the log (``log``, appended to)."""
    log = [] if log is None else log
    train_dense(model, x, y, epochs=train.dense_epochs if epochs is None else epochs, batch=train.batch,
                optimizer=make_optimizer(train.optimizer, train.lr), rng=rng, weight_decay=train.weight_decay,
                decay=train.lr_decay, on_epoch=epoch_logger(step_name, model, val, log, on_epoch))
    return log


def sparse_step(model: MLP, x: np.ndarray, y: np.ndarray, *, train: TrainConfig, dsd: DSDConfig,
                rng: np.random.Generator, val=None, log: list[EpochLog] | None = None,
                on_epoch: Callable | None = None, wrap_step: Callable | None = None) -> list[np.ndarray]:
    """S, in place: prune every layer to ``1 - dsd.sparsity`` of its weights (the largest
    ``|w|`` kept) and retrain ``dsd.sparse_epochs`` with the pruned weights' gradient masked
    (exactly 0.0 throughout).  Returns the masks (True = kept).  ``wrap_step(step, masks)``
    may wrap the training step (tests check the mask after every update with it)."""
    log = [] if log is None else log
    lr, _ = dsd.lrs(train)
    return prune_and_retrain(model, x, y, targets=[1.0 - dsd.sparsity] * len(model.weights), steps=1,
                             epochs=dsd.sparse_epochs, batch=train.batch,
                             make_optimizer=lambda: make_optimizer(train.optimizer, lr), rng=rng,
                             weight_decay=train.weight_decay, decay=train.lr_decay, wrap_step=wrap_step,
                             on_epoch=epoch_logger("sparse", model, val, log, on_epoch))


def redense_step(model: MLP, x: np.ndarray, y: np.ndarray, *, train: TrainConfig, dsd: DSDConfig,
                 rng: np.random.Generator, val=None, log: list[EpochLog] | None = None,
                 on_epoch: Callable | None = None, wrap_step: Callable | None = None,
                 step_name: str = "redense") -> list[EpochLog]:
    """Final D, in place: every weight trains again (the pruned ones from the 0.0 the sparse
    step left them at) for ``dsd.redense_epochs`` at ``dsd.lr_drop * train.lr``, with a fresh
    optimiser.  ``wrap_step(step)`` may wrap the training step."""
    log = [] if log is None else log
    _, lr = dsd.lrs(train)
    train_dense(model, x, y, epochs=dsd.redense_epochs, batch=train.batch,
                optimizer=make_optimizer(train.optimizer, lr), rng=rng, weight_decay=train.weight_decay,
                decay=train.lr_decay, wrap_step=wrap_step, on_epoch=epoch_logger(step_name, model, val, log, on_epoch))
    return log


def dsd_train(model: MLP, x: np.ndarray, y: np.ndarray, *, train: TrainConfig, dsd: DSDConfig,
              rngs: tuple[np.random.Generator, np.random.Generator, np.random.Generator], val=None,
              on_epoch: Callable | None = None, dense: bool = True) -> DSDResult:
    """The three steps on ``model``, in place (see the module docstring).

    ``rngs``: the minibatch order of the dense, sparse and re-dense steps.  ``val``:
    ``(x_val, y_val)`` scored after every epoch into the log (never the test images).
    ``on_epoch(EpochLog)`` is called after every epoch (a progress bar).  ``dense=False``
    skips the dense step (``model`` is already trained).
    """
    r_dense, r_sparse, r_redense = rngs
    log: list[EpochLog] = []
    if dense:
        dense_step(model, x, y, train=train, rng=r_dense, val=val, log=log, on_epoch=on_epoch)
    masks = sparse_step(model, x, y, train=train, dsd=dsd, rng=r_sparse, val=val, log=log, on_epoch=on_epoch)
    redense_step(model, x, y, train=train, dsd=dsd, rng=r_redense, val=val, log=log, on_epoch=on_epoch)
    return DSDResult(masks, log)
