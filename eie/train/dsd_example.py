"""The DSD example end to end: LeNet-300-100 trained dense-sparse-dense on real data, against
dense baselines, then compressed for the array and run on its model.

:func:`run_dsd` is one seeded run:

- **DSD** (:func:`eie.train.dsd.dsd_train`): the dense step (``train.dense_epochs``), the
  sparse step and the re-dense step; the accuracy after each (``dense``, ``sparse``,
  ``dsd``).
- **Baselines** with the same number of epochs as DSD in total (the comparison the DSD paper
  makes): ``dense_same_epochs``, trained from the same initial weights in one run of
  ``dense_epochs + sparse_epochs + redense_epochs`` epochs; and ``dense_continued``, the
  dense step's network trained on through the sparse and re-dense steps' schedule (learning
  rates, epochs, even minibatch order) without pruning, so that pruning is the only
  difference from DSD.
- **On the array** (``compress``): Deep Compression (:func:`eie.train.run_deep_compression`,
  the committed hyper-parameters) of the same-epochs dense baseline (``dc``) and of the DSD
  network (``dsd_dc``), and the two dense networks weight-shared for the array with every
  weight kept (``dense_same_epochs``, ``dsd``: 4-bit codes, fine-tuned, no pruning): the
  accuracy in float and on the array's 16-bit fixed point, the storage (Table 2 account)
  and the cycles, latency and energy per inference on the cycle-accurate model
  (:func:`eie.train.accelerator.array_speed`).

Random streams: ``np.random.SeedSequence(seed).spawn(8)``; children 0..3 are those of
:func:`~eie.train.example.run_deep_compression` (initial weights, dense, pruning and
fine-tuning minibatches), so the dense step of seed s is the dense network of Deep
Compression's seed s; 4 and 5 order the sparse and re-dense steps (and, again, the continued
baseline's two phases); 6 the same-epochs baseline.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ..config import EIEConfig
from ..errors import InputError
from .accelerator import ArraySpeed, array_speed
from .data import Dataset
from .dsd import DSDConfig, EpochLog, dense_step, redense_step, sparse_step
from .example import DeepCompressionRun, TrainConfig, run_deep_compression
from .mlp import MLP

__all__ = ["VARIANTS", "ARRAY_VARIANTS", "OnArray", "DSDRun", "run_dsd", "train_networks", "pruned_weight_stats", "put_on_array",
           "silent_weights", "sizes_of"]

#: the networks trained, in the order the report shows them
VARIANTS = ("dense", "sparse", "dsd", "dense_same_epochs", "dense_continued")
#: the networks put on the array (part 3), in the order the report shows them
ARRAY_VARIANTS = ("dense_same_epochs", "dsd", "dc", "dsd_dc")
#: which trained network each array variant starts from
ARRAY_SOURCE = {"dense_same_epochs": "dense_same_epochs", "dsd": "dsd", "dc": "dense_same_epochs",
                "dsd_dc": "dsd"}


@dataclass(eq=False)
class OnArray:
    """One network prepared for the array: the Deep Compression run that prepared it (its
    ``test``/``val`` accuracies, storage and fixed point; for an unpruned variant every
    density is 1) and its simulated speed."""

    variant: str
    run: DeepCompressionRun
    speed: ArraySpeed

    def to_dict(self) -> dict:
        r = self.run
        return {"variant": self.variant, "source": ARRAY_SOURCE[self.variant],
                "pruned": self.variant in ("dc", "dsd_dc"),
                "test": r.test.to_dict(), "val": r.val.to_dict(), "total": r.total,
                "storage": [s.to_dict() for s in r.storage], "accelerator": r.accelerator.to_dict(),
                "speed": self.speed.to_dict(), "times_s": r.times.to_dict()}


@dataclass(eq=False)
class DSDRun:
    """Everything one seeded run produced; ``test``/``val``: top-1 accuracy of each of
    :data:`VARIANTS`; ``log``: every epoch of every network trained."""

    seed: int
    dataset: str
    split: str
    train: TrainConfig
    dsd: DSDConfig
    eie_config: EIEConfig
    sizes: list[int]
    images: tuple[int, int, int]
    test: dict[str, float]
    val: dict[str, float]
    kept: list[float]                 # fraction of each layer's weights the sparse step kept
    restored_nonzero: float           # fraction of the pruned weights non-zero after re-dense
    #: fraction of the pruned weights with no gradient in the re-dense step's network
    #: (:func:`silent_weights`), and the fraction of the others that are non-zero after it
    silent_pruned: float
    restored_other: float
    #: per variant, the fraction of each hidden layer's units that ReLU keeps at 0 on every
    #: training image
    silent_units: dict[str, list[float]]
    #: test images DSD gets right and the same-epochs baseline wrong, and the reverse
    dsd_only: int
    baseline_only: int
    log: list[EpochLog]
    times: dict[str, float]
    on_array: list[OnArray]
    model: MLP                        # the DSD network

    def to_dict(self) -> dict:
        return {"seed": self.seed, "dataset": self.dataset, "split": self.split, "sizes": self.sizes,
                "images": dict(zip(("train", "val", "test"), self.images, strict=True)),
                "train_config": self.train.to_dict(), "dsd_config": self.dsd.to_dict(),
                "eie_config": self.eie_config.to_dict(),
                "test": self.test, "val": self.val, "kept": self.kept, "restored_nonzero": self.restored_nonzero,
                "silent_pruned": self.silent_pruned, "restored_other": self.restored_other,
                "silent_units": self.silent_units,
                "paired_test": {"dsd_right_baseline_wrong": self.dsd_only,
                                "dsd_wrong_baseline_right": self.baseline_only},
                "on_array": [a.to_dict() for a in self.on_array], "times_s": self.times,
                "log": [e.to_dict() for e in self.log]}


def silent_weights(model: MLP, x: np.ndarray) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """``(weights, units)``: per layer, the weights whose gradient is 0 for every image of
    ``x`` because their input is 0 on every image (a pixel that is always 0, or a unit
    below) or their unit is (a hidden unit that ReLU keeps at 0 on every image); and per
    hidden layer, those silent units."""
    weights, units = [], []
    h = x
    active_in = (h != 0).any(axis=0)
    last = len(model.weights) - 1
    for i, (w, b) in enumerate(zip(model.weights, model.biases, strict=True)):
        h = np.maximum(h @ w.T + b, 0) if i < last else h
        alive = (h > 0).any(axis=0) if i < last else np.ones(w.shape[0], bool)
        if i < last:
            units.append(~alive)
        weights.append(~(alive[:, None] & active_in[None, :]))
        active_in = alive
    return weights, units


def sizes_of(data: Dataset, train: TrainConfig) -> list[int]:
    return [data.n_features, *train.hidden, data.n_classes]


def run_dsd(data: Dataset, train: TrainConfig | None = None, dsd: DSDConfig | None = None, seed: int = 0,
            eie_config: EIEConfig | None = None, *, compress: bool = True, sim_images: int = 100,
            on_epoch: Callable | None = None) -> DSDRun:
    """One seeded run (see the module docstring).  ``compress=False`` skips the array part;
    ``sim_images``: the first that many test images run on the cycle-accurate model for
    the speed and energy (the accuracy uses them all).  ``on_epoch(EpochLog)`` is called
    after every epoch of every network trained (a progress bar)."""
    train = TrainConfig() if train is None else train
    dsd = DSDConfig() if dsd is None else dsd
    cfg = EIEConfig() if eie_config is None else eie_config
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise InputError(f"seed must be an integer >= 0, not {seed!r}")
    if isinstance(sim_images, bool) or not isinstance(sim_images, int) or sim_images < 1:
        raise InputError(f"sim_images must be an integer >= 1, not {sim_images!r}")
    nets, masks, log, times = train_networks(data, train, dsd, seed, on_epoch)
    x = data.x_train
    t = time.perf_counter()
    test = {k: nets[k].accuracy(data.x_test, data.y_test) for k in VARIANTS}
    vals = {k: nets[k].accuracy(data.x_val, data.y_val) for k in VARIANTS}
    right_dsd = nets["dsd"].logits(data.x_test).argmax(axis=1) == data.y_test
    right_base = nets["dense_same_epochs"].logits(data.x_test).argmax(axis=1) == data.y_test
    restored, silent_pruned, restored_other = pruned_weight_stats(nets["dsd"], masks, x)
    silent_units = {k: [float(u.mean()) for u in silent_weights(nets[k], x)[1]] for k in VARIANTS}

    on_array = []
    if compress:
        on_array = put_on_array(data, train, nets, seed, cfg, sim_images)
        times["on_array"] = time.perf_counter() - t
    return DSDRun(seed, data.name, data.split, train, dsd, cfg, sizes_of(data, train),
                  (len(data.y_train), len(data.y_val), len(data.y_test)), test, vals,
                  [float(m.mean()) for m in masks], restored, silent_pruned, restored_other, silent_units,
                  int(np.count_nonzero(right_dsd & ~right_base)), int(np.count_nonzero(~right_dsd & right_base)),
                  log, times, on_array, nets["dsd"])


def train_networks(data: Dataset, train: TrainConfig, dsd: DSDConfig, seed: int, on_epoch: Callable | None = None):
    """``(nets, masks, log, times)``: the networks of :data:`VARIANTS` trained on ``data``
    from the streams of ``seed`` (see the module docstring), the sparse step's masks, the
    per-epoch log and the seconds each took."""
    children = np.random.SeedSequence(seed).spawn(8)

    def rng(i: int) -> np.random.Generator:
        return np.random.default_rng(children[i])

    x, y = data.x_train, data.y_train
    kw = {"train": train, "val": (data.x_val, data.y_val), "on_epoch": on_epoch}
    clock = time.perf_counter
    times = {}
    log: list[EpochLog] = []
    t = clock()
    init = MLP.init(sizes_of(data, train), rng(0))
    model = init.copy()
    dense_step(model, x, y, rng=rng(1), log=log, **kw)
    nets = {"dense": model.copy()}
    times["dense"], t = clock() - t, clock()
    masks = sparse_step(model, x, y, dsd=dsd, rng=rng(4), log=log, **kw)
    nets["sparse"] = model.copy()
    times["sparse"], t = clock() - t, clock()
    redense_step(model, x, y, dsd=dsd, rng=rng(5), log=log, **kw)
    nets["dsd"] = model
    times["redense"], t = clock() - t, clock()
    same = init.copy()
    dense_step(same, x, y, rng=rng(6), log=log, epochs=train.dense_epochs + dsd.epochs, step_name="dense_same_epochs",
               **kw)
    nets["dense_same_epochs"] = same
    times["dense_same_epochs"], t = clock() - t, clock()
    # the sparse and re-dense steps' schedule and minibatch order (streams 4 and 5 again), no pruning
    cont = nets["dense"].copy()
    sparse_lr, _ = dsd.lrs(train)
    dense_step(cont, x, y, rng=rng(4), log=log, epochs=dsd.sparse_epochs, step_name="dense_continued",
               **{**kw, "train": train.replace(lr=sparse_lr)})
    redense_step(cont, x, y, dsd=dsd, rng=rng(5), log=log, step_name="dense_continued", **kw)
    nets["dense_continued"] = cont
    times["dense_continued"] = clock() - t
    return nets, masks, log, times


def pruned_weight_stats(model: MLP, masks: list[np.ndarray], x: np.ndarray) -> tuple[float, float, float]:
    """Of the weights the sparse step pruned, in ``model`` after the re-dense step: the
    fraction non-zero, the fraction :func:`silent_weights` on ``x``, and the fraction of the
    others that are non-zero."""
    pruned = [~m for m in masks]
    silent, _ = silent_weights(model, x)
    other = [p & ~q for p, q in zip(pruned, silent, strict=True)]

    def nonzero(parts):
        return sum(int(np.count_nonzero(w[p])) for w, p in zip(model.weights, parts, strict=True))

    n_pruned = sum(int(p.sum()) for p in pruned)
    n_other = sum(int(o.sum()) for o in other)
    if not n_pruned:
        return 0.0, 0.0, 0.0
    return (nonzero(pruned) / n_pruned, (n_pruned - n_other) / n_pruned,
            nonzero(other) / n_other if n_other else 0.0)


def put_on_array(data: Dataset, train: TrainConfig, nets: dict[str, MLP], seed: int, config: EIEConfig,
                 sim_images: int) -> list[OnArray]:
    """Each of :data:`ARRAY_VARIANTS` prepared for the array from its trained network in
    ``nets`` (Deep Compression with ``train``'s stages, or only the weight sharing and
    fine-tuning with every weight kept) and run on the model over the first ``sim_images``
    test images."""
    unpruned = train.replace(densities=(1.0,) * len(train.densities), prune_steps=1, retrain_epochs=0)
    x_sim = data.x_test[:sim_images]
    out = []
    for variant in ARRAY_VARIANTS:
        run = run_deep_compression(data, train if variant in ("dc", "dsd_dc") else unpruned, seed, config,
                                   dense=nets[ARRAY_SOURCE[variant]])
        out.append(OnArray(variant, run, array_speed(run.net.layers, x_sim, run.accelerator.plans, config)))
    return out
