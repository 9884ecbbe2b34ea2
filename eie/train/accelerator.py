"""The compressed network on the accelerator's fixed point, many images at once.

The batched bit-exact path has one owner, :mod:`eie.evaluate` (the network's functions
between layers and both bias kinds included); this module keeps the names :mod:`eie.train`
has always imported.
"""

from __future__ import annotations

from ..evaluate import AcceleratorRun, accelerator_accuracy, accelerator_outputs, calibrate_plans

__all__ = ["AcceleratorRun", "calibrate_plans", "accelerator_outputs", "accelerator_accuracy"]
