"""The built-in example end to end: LeNet-300-100, Deep Compression with retraining, scored
in float and on the accelerator's fixed point.

:func:`run_deep_compression` is one seeded run: train the dense network, prune and retrain
iteratively, share weights, fine-tune the centroids (eie.train.deep_compression), account
the storage (Deep Compression Table 2), and run the test images through the compressed
network in the array's 16-bit fixed point (eie.train.accelerator).  The hyper-parameters
are a :class:`TrainConfig`; the codebook width and the relative-index width of the
storage account come from the array's :class:`~eie.config.EIEConfig` (``weight_bits``,
``index_bits``), so the network is compressed for the array it runs on.

The defaults were chosen on the validation split (docs/training.md, "Choosing the
hyper-parameters"); the test split is scored once per run and never used to choose.
"""

from __future__ import annotations

import dataclasses
import math
import time
from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np

from ..compress import StorageReport
from ..config import EIEConfig
from ..errors import InputError
from ..fileio import read_toml
from .accelerator import AcceleratorRun, accelerator_accuracy, accelerator_outputs, calibrate_plans
from .data import Dataset
from .deep_compression import (
    SharedMLP,
    finetune_centroids,
    prune_and_retrain,
    share_layers,
    storage_reports,
    total_storage,
    train_dense,
)
from .mlp import MLP
from .optim import OPTIMIZERS, make_optimizer

__all__ = ["EXAMPLES", "TrainConfig", "replace_fields", "StageAccuracy", "StageTimes", "DeepCompressionRun", "run_deep_compression",
           "layer_names", "read_training_toml"]

#: the built-in examples: name -> hidden layer widths
EXAMPLES = {"lenet-300-100": (300, 100)}


@dataclass(frozen=True)
class TrainConfig:
    """Hyper-parameters of one Deep Compression run; checks itself on construction.

    Stage 1, dense: ``dense_epochs`` of ``optimizer`` at ``lr``.  Stage 1, pruning:
    ``prune_steps`` rounds to the final ``densities`` (one per layer; Deep Compression's
    LeNet-300-100 keeps 8 %, 9 %, 26 %), each retrained for ``retrain_epochs`` at
    ``retrain_lr``.  Stage 3: ``finetune_epochs`` of centroid fine-tuning at
    ``finetune_lr``.  Every stage: minibatches of ``batch``, L2 ``weight_decay`` on the
    weights (not the centroids), and with ``lr_decay`` the rate of each stage (each
    pruning round) falls to 0 along a half cosine.
    """

    hidden: tuple[int, ...] = (300, 100)
    batch: int = 64
    optimizer: str = "adam"
    lr: float = 4e-3
    weight_decay: float = 1e-3
    lr_decay: bool = True
    dense_epochs: int = 40
    densities: tuple[float, ...] = (0.08, 0.09, 0.26)
    prune_steps: int = 4
    retrain_epochs: int = 12
    retrain_lr: float = 2e-3
    finetune_epochs: int = 4
    finetune_lr: float = 3e-4

    def __post_init__(self):
        object.__setattr__(self, "hidden", tuple(self.hidden))
        object.__setattr__(self, "densities", tuple(self.densities))
        for name in ("batch", "dense_epochs", "prune_steps", "retrain_epochs", "finetune_epochs"):
            v = getattr(self, name)
            # the dense network must be trained (Deep Compression starts from one; 0 had run on an
            # untrained one at chance); 0 retrain or fine-tune epochs skip that phase (an ablation)
            low = 1 if name in ("batch", "prune_steps", "dense_epochs") else 0
            if isinstance(v, bool) or not isinstance(v, int) or v < low:
                raise InputError(f"{name} must be an integer >= {low}, not {v!r}")
        for name in ("lr", "retrain_lr", "finetune_lr"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v <= 0:
                raise InputError(f"{name} must be a finite number > 0, not {v!r}")
        wd = self.weight_decay
        if isinstance(wd, bool) or not isinstance(wd, (int, float)) or not math.isfinite(wd) or wd < 0:
            raise InputError(f"weight_decay must be a finite number >= 0, not {wd!r}")
        if self.optimizer not in OPTIMIZERS:
            raise InputError(f"optimizer must be one of {', '.join(OPTIMIZERS)}, not {self.optimizer!r}")
        if not isinstance(self.lr_decay, bool):
            raise InputError(f"lr_decay must be true or false, not {self.lr_decay!r}")
        if not self.hidden or any(isinstance(n, bool) or not isinstance(n, int) or n < 1 for n in self.hidden):
            raise InputError(f"hidden must be one or more integers >= 1, not {list(self.hidden)!r}")
        if len(self.densities) != len(self.hidden) + 1:
            raise InputError(f"densities must give one density per layer ({len(self.hidden) + 1}), not "
                             f"{list(self.densities)!r}")
        for d in self.densities:
            if isinstance(d, bool) or not isinstance(d, (int, float)) or not 0 < d <= 1:
                raise InputError(f"densities must be in (0, 1], not {d!r}")

    def replace(self, **changes) -> TrainConfig:
        return replace_fields(self, "training", changes)

    def with_epochs(self, epochs: int) -> TrainConfig:
        """The same run with every stage (each pruning round) trained for ``epochs``."""
        return self.replace(dense_epochs=epochs, retrain_epochs=epochs, finetune_epochs=epochs)

    def to_dict(self) -> dict:
        return {f.name: (list(v) if isinstance(v := getattr(self, f.name), tuple) else v) for f in fields(self)}

    @classmethod
    def from_file(cls, path) -> TrainConfig:
        """A TOML file of fields (top level or under ``[train]``); unknown keys are errors."""
        data = read_training_toml(path)
        if set(data) == {"train"} and isinstance(data["train"], dict):
            data = data["train"]
        try:
            return cls().replace(**data)
        except InputError as exc:           # name the file the bad key came from
            raise InputError(f"training config {str(Path(path))!r}: {exc}") from None


def replace_fields(config, kind: str, changes: dict):
    """``dataclasses.replace(config, **changes)``, an unknown field an :class:`InputError`
    naming it and the known ones (``kind``: what the keys are, e.g. "training")."""
    unknown = sorted(set(changes) - {f.name for f in fields(config)})
    if unknown:
        raise InputError(f"unknown {kind} key {unknown[0]!r}; known keys are "
                         f"{', '.join(f.name for f in fields(config))}")
    return dataclasses.replace(config, **changes)


def read_training_toml(path) -> dict:
    """The contents of a training configuration file (TOML); a missing or broken file is an
    :class:`~eie.errors.InputError` naming it."""
    return read_toml(path, f"training config {str(Path(path))!r}")


@dataclass(frozen=True)
class StageAccuracy:
    """Top-1 accuracy of one split after each stage: ``dense``, ``pruned`` (after masked
    retraining), ``shared`` (k-means sharing, before fine-tuning), ``finetuned`` (pruned +
    shared + fine-tuned: the compressed network in float) and ``fixed_point`` (the same
    network on the array's fixed point)."""

    dense: float
    pruned: float
    shared: float
    finetuned: float
    fixed_point: float

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class StageTimes:
    """Wall-clock seconds of each stage of one run (``total`` is their sum)."""

    dense: float
    prune: float
    share: float
    finetune: float
    storage: float
    fixed_point: float

    @property
    def total(self) -> float:
        return self.dense + self.prune + self.share + self.finetune + self.storage + self.fixed_point

    def to_dict(self) -> dict:
        return {**dataclasses.asdict(self), "total": self.total}


@dataclass(eq=False)
class DeepCompressionRun:
    """Everything one seeded run produced."""

    seed: int
    dataset: str
    split: str
    config: TrainConfig
    eie_config: EIEConfig
    test: StageAccuracy
    val: StageAccuracy
    storage: list[StorageReport]
    total: dict
    net: SharedMLP
    accelerator: AcceleratorRun
    times: StageTimes
    sizes: list[int]
    #: test images the dense network classifies right and the fixed-point one wrong, and the
    #: reverse: the images that make the difference between the two accuracies (paired)
    dense_only: int = 0
    compressed_only: int = 0
    #: training, validation and test images
    images: tuple[int, int, int] = (0, 0, 0)

    def to_dict(self) -> dict:
        return {"seed": self.seed, "dataset": self.dataset, "images": dict(zip(("train", "val", "test"), self.images,
                                                                             strict=True)),
                "test": self.test.to_dict(), "val": self.val.to_dict(),
                "paired_test": {"dense_right_compressed_wrong": self.dense_only,
                                "dense_wrong_compressed_right": self.compressed_only},
                "storage": [r.to_dict() for r in self.storage], "total": self.total,
                "accelerator": self.accelerator.to_dict(), "times_s": self.times.to_dict()}


def layer_names(n: int) -> list[str]:
    """Caffe's names of the layers of LeNet-300-100, as Deep Compression's Table 2 prints them."""
    return [f"ip{i + 1}" for i in range(n)]


def run_deep_compression(data: Dataset, config: TrainConfig | None = None, seed: int = 0,
                         eie_config: EIEConfig | None = None, dense: MLP | None = None) -> DeepCompressionRun:
    """One seeded run of the whole pipeline on ``data`` (see the module docstring).

    Four independent random streams are spawned from ``np.random.SeedSequence(seed)``: the
    initial weights, and the minibatch order of the dense, pruning and fine-tuning stages.
    ``dense``: compress this trained network (a copy; the dense stage is skipped, its time
    is 0 and its accuracy is this network's) instead of training one, e.g. a DSD-trained
    one (eie.train.dsd_example).
    """
    config = TrainConfig() if config is None else config
    cfg = EIEConfig() if eie_config is None else eie_config
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise InputError(f"seed must be an integer >= 0, not {seed!r}")
    sizes = [data.n_features, *config.hidden, data.n_classes]
    names = layer_names(len(sizes) - 1)
    r_init, r_dense, r_prune, r_fine = (np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(4))
    x, y = data.x_train, data.y_train
    clock = time.perf_counter

    t0 = clock()
    if dense is None:
        model = MLP.init(sizes, r_init)
        train_dense(model, x, y, epochs=config.dense_epochs, batch=config.batch,
                    optimizer=make_optimizer(config.optimizer, config.lr), rng=r_dense,
                    weight_decay=config.weight_decay, decay=config.lr_decay)
    elif dense.sizes != sizes:
        raise InputError(f"the dense network to compress must have sizes {sizes}, not {dense.sizes}")
    else:
        model = dense.copy()
    dense_right = model.logits(data.x_test).argmax(axis=1) == data.y_test
    acc_dense = (float(dense_right.mean()), model.accuracy(data.x_val, data.y_val))
    t1 = clock()
    masks = prune_and_retrain(model, x, y, targets=config.densities, steps=config.prune_steps,
                              epochs=config.retrain_epochs, batch=config.batch,
                              make_optimizer=lambda: make_optimizer(config.optimizer, config.retrain_lr),
                              rng=r_prune, weight_decay=config.weight_decay, decay=config.lr_decay)
    acc_pruned = (model.accuracy(data.x_test, data.y_test), model.accuracy(data.x_val, data.y_val))
    t2 = clock()
    net = share_layers(model, masks, cfg.weight_bits, names)
    acc_shared = (net.accuracy(data.x_test, data.y_test), net.accuracy(data.x_val, data.y_val))
    t3 = clock()
    finetune_centroids(net, x, y, epochs=config.finetune_epochs, batch=config.batch,
                       optimizer=make_optimizer(config.optimizer, config.finetune_lr), rng=r_fine,
                       decay=config.lr_decay)
    acc_fine = (net.accuracy(data.x_test, data.y_test), net.accuracy(data.x_val, data.y_val))
    t4 = clock()
    reports = storage_reports(net, cfg.index_bits)
    total = total_storage(reports, bias_values=sum(layer.bias.size for layer in net.layers))
    t5 = clock()
    plans = calibrate_plans(net.layers, x, cfg)
    run_test = accelerator_outputs(net.layers, data.x_test, plans, cfg)
    run_val = accelerator_outputs(net.layers, data.x_val, plans, cfg)
    t6 = clock()
    test = StageAccuracy(acc_dense[0], acc_pruned[0], acc_shared[0], acc_fine[0],
                         accelerator_accuracy(run_test, data.y_test))
    val = StageAccuracy(acc_dense[1], acc_pruned[1], acc_shared[1], acc_fine[1],
                        accelerator_accuracy(run_val, data.y_val))
    times = StageTimes(t1 - t0, t2 - t1, t3 - t2, t4 - t3, t5 - t4, t6 - t5)
    fixed_right = run_test.outputs_q.argmax(axis=1) == data.y_test
    return DeepCompressionRun(seed, data.name, data.split, config, cfg, test, val, reports, total, net, run_test,
                              times, sizes, int(np.count_nonzero(dense_right & ~fixed_right)),
                              int(np.count_nonzero(~dense_right & fixed_right)),
                              (len(data.y_train), len(data.y_val), len(data.y_test)))
