"""The compressed network on the accelerator: its fixed point for many images at once, and
its simulated cycles, latency and energy per inference.

The batched bit-exact path has one owner, :mod:`eie.evaluate` (the network's functions
between layers and both bias kinds included); this module keeps the names :mod:`eie.train`
has always imported.  The speed and energy come from :func:`eie.pipeline.run_network` (the
cycle-accurate model and the energy table every other figure of eie uses), image by image.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np

from ..config import EIEConfig
from ..energy import EnergyTable
from ..errors import InputError
from ..evaluate import (
    AcceleratorRun,
    accelerator_accuracy,
    accelerator_outputs,
    calibrate_plans,
    default_functions,
)
from ..fixed import QuantPlan
from ..layer import CompressedLayer
from ..pipeline import run_network

__all__ = ["AcceleratorRun", "calibrate_plans", "accelerator_outputs", "accelerator_accuracy", "ArraySpeed",
           "array_speed"]


@dataclass(frozen=True)
class ArraySpeed:
    """Per inference on the array, the mean over ``images`` images (the cycles depend on how
    many inputs are non-zero, so on the image): ``cycles``, ``time_us`` at the configured
    clock, ``energy_pj`` (the energy table of :mod:`eie.energy`), ``load_efficiency``
    (useful MACs / (cycles x PEs)); ``fits``: every layer fits the configured memories;
    ``outputs_match_reference``: the model agreed with its reference on every image."""

    images: int
    cycles: float
    time_us: float
    energy_pj: float
    load_efficiency: float
    fits: bool
    outputs_match_reference: bool

    def to_dict(self) -> dict:
        return asdict(self)


def array_speed(layers: Sequence, x: np.ndarray, plans: Sequence[QuantPlan], config: EIEConfig,
                table: EnergyTable | None = None) -> ArraySpeed:
    """Run the images ``x`` (rows) one by one through ``layers`` (:class:`eie.train.SharedLayer`
    s: ``codebook``, ``codes``, float ``bias``) on the cycle-accurate model with the fraction
    bits ``plans`` (those :func:`calibrate_plans` chose, so the accuracy and the speed are of
    the same fixed point), ReLU between layers, and average.  A layer larger than the
    memories still runs (the timing does not depend on their size); ``fits`` says so."""
    x = np.asarray(x)
    if x.ndim != 2 or len(x) < 1:
        raise InputError(f"array_speed needs at least one image (rows of inputs), not shape {x.shape}")
    compressed = [CompressedLayer(layer.codebook, layer.codes, name=layer.name,
                                  bias=np.asarray(layer.bias, dtype=np.float64)) for layer in layers]
    functions = default_functions(len(compressed))
    table = table or EnergyTable.default(config)
    sums = np.zeros(4)
    fits = match = True
    for image in x:
        s = run_network(compressed, functions, config, image, plans=list(plans), table=table,
                        check_capacity=False)[0]
        sums += (s["cycles"], s["time_us"], s["energy_pj"], s["load_efficiency"])
        fits &= bool(s["fits"])
        match &= bool(s["outputs_match_reference"])
    cycles, time_us, energy, eff = (float(v) for v in sums / len(x))
    return ArraySpeed(len(x), cycles, time_us, energy, eff, fits, match)
