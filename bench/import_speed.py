"""Import speed (printed, not asserted): a 50 MB ONNX model through `eie import`.

    .venv/bin/python bench/import_speed.py [--mb 50] [--runs 3]

Builds an MLP with onnx.helper (three Gemm + Relu layers of n x n float32 weights with
biases, and an LSTM of hidden 64, so that two importer paths are in it) of about --mb
megabytes, then times the whole command `eie import MODEL -o DIR --force` in a fresh
process (Python start-up and imports included), best of --runs; and, in this process,
the stages: reading the model, converting the layers, writing the directory.
The target is <= 10 s for 50 MB.
"""

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402


def build(path: Path, mb: float) -> tuple[int, int]:
    import onnx
    from onnx import TensorProto, helper, numpy_helper
    rng = np.random.default_rng(0)
    layers, hidden = 3, 64
    # float32 bytes: three n x n Gemm weights, 4H x (n + H) of the LSTM: 12 n^2 + 1024 n + 65536
    n = int((-1024 + (1024 ** 2 + 48 * (mb * 1e6 - 65536)) ** 0.5) / 24)
    nodes, inits, x = [], [], "x"
    for i in range(layers):
        inits += [numpy_helper.from_array(rng.normal(0, 0.02, (n, n)).astype(np.float32), f"fc{i}.weight"),
                  numpy_helper.from_array(rng.normal(0, 0.02, n).astype(np.float32), f"fc{i}.bias")]
        nodes += [helper.make_node("Gemm", [x, f"fc{i}.weight", f"fc{i}.bias"], [f"h{i}"], transB=1, name=f"fc{i}"),
                  helper.make_node("Relu", [f"h{i}"], [f"a{i}"])]
        x = f"a{i}"
    inits += [numpy_helper.from_array(rng.normal(0, 0.02, (1, 4 * hidden, n)).astype(np.float32), "lstm.W"),
              numpy_helper.from_array(rng.normal(0, 0.02, (1, 4 * hidden, hidden)).astype(np.float32), "lstm.R"),
              numpy_helper.from_array(rng.normal(0, 0.02, (1, 8 * hidden)).astype(np.float32), "lstm.B")]
    nodes += [helper.make_node("Unsqueeze", [x, "axes"], ["seq"]),
              helper.make_node("LSTM", ["seq", "lstm.W", "lstm.R", "lstm.B"], ["y"], hidden_size=hidden, name="lstm")]
    inits.append(numpy_helper.from_array(np.array([0], dtype=np.int64), "axes"))
    graph = helper.make_graph(nodes, "mlp", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, n])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], inits)
    onnx.save(helper.make_model(graph), str(path))
    return layers, n


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mb", type=float, default=50.0)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    eie = Path(sys.executable).with_name("eie")
    with tempfile.TemporaryDirectory() as tmp:
        model = Path(tmp) / "mlp.onnx"
        t = time.perf_counter()
        layers, n = build(model, args.mb)
        size = model.stat().st_size
        print(f"model: {layers} Gemm layers {n}x{n} + ReLU, an LSTM H=64 X={n}: {size / 1e6:.1f} MB "
              f"(built in {time.perf_counter() - t:.1f} s)")
        out = Path(tmp) / "net"
        times = []
        for _ in range(args.runs):
            t = time.perf_counter()
            subprocess.run([str(eie), "import", str(model), "-o", str(out), "--force"], check=True,
                           stdout=subprocess.DEVNULL)
            times.append(time.perf_counter() - t)
        written = sum(p.stat().st_size for p in out.iterdir())
        print(f"eie import (fresh process): best {min(times):.2f} s of {args.runs} "
              f"({', '.join(f'{x:.2f}' for x in times)}); wrote {written / 1e6:.1f} MB; target <= 10 s for 50 MB")

        from eie.importers import import_file, network_plan
        t0 = time.perf_counter()
        net = import_file(model)
        t1 = time.perf_counter()
        plan, _ = network_plan(net, Path(tmp) / "net2", force=True)
        t2 = time.perf_counter()
        plan.commit()
        t3 = time.perf_counter()
        print(f"stages in-process: read + convert {t1 - t0:.2f} s, layer files {t2 - t1:.2f} s, "
              f"write {t3 - t2:.2f} s")


if __name__ == "__main__":
    main()
