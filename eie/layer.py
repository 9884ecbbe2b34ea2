"""Layers as data: a dense layer (float weights) and a compressed layer (codebook + codes).

Loading validates everything up front and raises :class:`eie.errors.InputError` naming the
field and the fix.  Files are read with ``allow_pickle=False``: a pickle is never loaded.

Before any array is decompressed, the ``.npy`` header of every array that will be loaded is
read (its shape and dtype; the zip member is opened but only its first bytes are
inflated) and refused when it is not a numeric array, when it declares more than
:data:`MAX_ELEMENTS` elements, or when the member is too short for the data it declares.
So a small archive that declares a huge matrix costs nothing.
"""

from __future__ import annotations

import io
import math
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .errors import InputError
from .fileio import write_bytes

__all__ = ["MAX_ELEMENTS", "LAYER_ARRAYS", "DenseLayer", "CompressedLayer", "load_layer", "layer_shape", "load_activations",
           "read_npz", "read_npy", "save_layer", "save_npz", "save_npy"]

#: most elements one array of a layer or input file may declare: 2**28 = 268,435,456, 2.6
#: times the weights of the paper's largest layer (VGG-6, 4096 x 25088).  A 2**28-weight
#: float64 matrix is 2 GiB before compression; the check runs on the file's headers, before
#: anything is decompressed.
MAX_ELEMENTS = 1 << 28

#: the arrays a layer ``.npz`` may hold (others are ignored and never decompressed)
LAYER_ARRAYS = ("weight", "bias", "codebook", "codes", "bias_codes", "activations")

_NPY_MAGIC = b"\x93NUMPY"


def check_finite(name: str, a: np.ndarray) -> None:
    """Refuse an array with a NaN or an infinity, naming the first value and its index."""
    if not np.all(np.isfinite(a)):
        bad = np.argwhere(~np.isfinite(a))[0]
        raise InputError(f"{name} must be finite, not {a[tuple(bad)].item()!r} at index {tuple(int(i) for i in bad)}")


def _float_array(name: str, value, ndim: int) -> np.ndarray:
    a = np.asarray(value)
    if a.dtype.kind not in "fiu" or a.dtype.kind == "b":
        raise InputError(f"{name} must be a numeric array, not dtype {a.dtype}")
    if a.ndim != ndim:
        raise InputError(f"{name} must be {ndim}-D, not shape {a.shape}")
    with np.errstate(over="ignore", invalid="ignore"):  # a long double beyond float64: inf, refused below
        a = a.astype(np.float64)
    check_finite(name, a)
    return a


@dataclass(frozen=True, eq=False)
class DenseLayer:
    """A fully-connected layer ``y = weight @ x + bias`` with float weights (out x in)."""

    weight: np.ndarray
    bias: np.ndarray | None = None
    activations: np.ndarray | None = None
    name: str = "layer"

    def __post_init__(self):
        w = _float_array("weight", self.weight, 2)
        if w.shape[0] < 1 or w.shape[1] < 1:
            raise InputError(f"weight must have at least one row and one column, not shape {w.shape}")
        object.__setattr__(self, "weight", w)
        if self.bias is not None:
            b = _float_array("bias", self.bias, 1)
            if b.shape[0] != w.shape[0]:
                raise InputError(f"bias must have one value per output row ({w.shape[0]}), not {b.shape[0]}")
            object.__setattr__(self, "bias", b)
        if self.activations is not None:
            object.__setattr__(self, "activations", check_activations(self.activations, w.shape[1]))

    @property
    def shape(self):
        return self.weight.shape


@dataclass(frozen=True, eq=False)
class CompressedLayer:
    """A layer after pruning and weight sharing: ``W[i, j] = codebook[codes[i, j]]``.

    ``codebook[0]`` is 0.0 (code 0 = pruned weight, also the padding code).  A layer carries
    at most one of two biases [arch §2]:

    - ``bias_codes``: the authors' *coded bias*, codes into the same codebook, stored in
      the bias column of the sparse matrix (their AlexNet FC8 layer);
    - ``bias``: a *full-precision bias* (float64, one value per output row): the bias
      column stays empty and every destination accumulator starts from
      ``q_acc(bias_i)`` (``eie.fixed.acc_preload``).
    """

    codebook: np.ndarray
    codes: np.ndarray
    bias_codes: np.ndarray | None = None
    activations: np.ndarray | None = None
    name: str = "layer"
    extra: dict = field(default_factory=dict)
    bias: np.ndarray | None = None

    def __post_init__(self):
        cb = _float_array("codebook", self.codebook, 1)
        if cb.size < 1 or cb.size > 256:
            raise InputError(f"codebook must have 1 to 256 entries, not {cb.size}")
        if cb[0] != 0.0:
            raise InputError(f"codebook[0] must be 0.0 (code 0 is the pruned weight), not {cb[0].item()!r}")
        object.__setattr__(self, "codebook", cb)
        codes = self._codes("codes", self.codes, 2, cb.size)
        if codes.shape[0] < 1 or codes.shape[1] < 1:
            raise InputError(f"codes must have at least one row and one column, not shape {codes.shape}")
        object.__setattr__(self, "codes", codes)
        if self.bias_codes is not None:
            bc = self._codes("bias_codes", self.bias_codes, 1, cb.size)
            if bc.shape[0] != codes.shape[0]:
                raise InputError(f"bias_codes must have one code per output row ({codes.shape[0]}), not {bc.shape[0]}")
            object.__setattr__(self, "bias_codes", bc)
        if self.bias is not None:
            if self.bias_codes is not None:
                raise InputError("a layer carries bias (full precision) or bias_codes (coded with the codebook), "
                                 "not both: drop one")
            b = _float_array("bias", self.bias, 1)
            if b.shape[0] != codes.shape[0]:
                raise InputError(f"bias must have one value per output row ({codes.shape[0]}), not {b.shape[0]}")
            object.__setattr__(self, "bias", b)
        if self.activations is not None:
            object.__setattr__(self, "activations", check_activations(self.activations, codes.shape[1]))

    @staticmethod
    def _codes(name, value, ndim, size):
        a = np.asarray(value)
        if a.dtype.kind not in "iu":
            if a.dtype.kind == "f" and a.size and np.all(np.isfinite(a)) and np.all(a == np.round(a)):
                lo, hi = float(a.min()), float(a.max())
                if lo < 0 or hi >= size:        # named as given, before a cast that would wrap it
                    raise InputError(f"{name} must be in [0, {size - 1}] (the codebook has {size} entries), "
                                     f"not {lo if lo < 0 else hi:g}")
                a = a.astype(np.int64)
            else:
                raise InputError(f"{name} must be an integer array, not dtype {a.dtype}")
        if a.ndim != ndim:
            raise InputError(f"{name} must be {ndim}-D, not shape {a.shape}")
        if a.size:
            lo, hi = int(a.min()), int(a.max())
            if lo < 0 or hi >= size:
                bad = lo if lo < 0 else hi
                raise InputError(f"{name} must be in [0, {size - 1}] (the codebook has {size} entries), not {bad}")
        return a.astype(np.uint8)

    @property
    def shape(self):
        return self.codes.shape

    @property
    def n_out(self) -> int:
        return self.codes.shape[0]

    @property
    def n_in(self) -> int:
        return self.codes.shape[1]

    def dense_weight(self) -> np.ndarray:
        """The decoded float weight matrix (float64)."""
        return self.codebook[self.codes]

    @property
    def bias_kind(self) -> str | None:
        """``"full"`` (``bias``), ``"coded"`` (``bias_codes``) or None (no bias) [arch §2]."""
        if self.bias is not None:
            return "full"
        return None if self.bias_codes is None else "coded"

    def bias_values(self) -> np.ndarray:
        """The bias as float64 values (zeros without one): ``bias``, or ``codebook[bias_codes]``."""
        if self.bias is not None:
            return self.bias
        if self.bias_codes is None:
            return np.zeros(self.n_out)
        return self.codebook[self.bias_codes]

    def arrays(self) -> dict:
        """The arrays of the layer file (:func:`save_layer`, read back by :func:`load_layer`):
        ``codebook``, ``codes`` and those of ``bias`` / ``bias_codes`` / ``activations`` it has."""
        out = {"codebook": self.codebook, "codes": self.codes}
        for key in ("bias", "bias_codes", "activations"):
            if getattr(self, key) is not None:
                out[key] = getattr(self, key)
        return out

    def float_forward(self, x) -> np.ndarray:
        """``W @ x + b`` in float64: the independent reference the fixed-point result is held to."""
        x = check_activations(x, self.n_in)
        return self.dense_weight() @ x + self.bias_values()


def check_activations(value, n: int, name: str = "activations") -> np.ndarray:
    a = _float_array(name, value, 1)
    if a.shape[0] != n:
        raise InputError(f"{name} must have one value per input column ({n}), not {a.shape[0]}")
    return a


def _read_npy_header(fp) -> tuple[tuple, np.dtype, int]:
    """``(shape, dtype, header_bytes)`` of the ``.npy`` stream ``fp``, reading only its header."""
    fmt = np.lib.format
    version = fmt.read_magic(fp)
    # 3.0 differs from 2.0 only in the header's text encoding (UTF-8), ASCII for a numeric dtype
    read = fmt.read_array_header_1_0 if version == (1, 0) else fmt.read_array_header_2_0
    shape, _fortran, dtype = read(fp)
    return tuple(int(n) for n in shape), dtype, fp.tell()


def check_array_header(where: str, shape: tuple, dtype: np.dtype, data_bytes: int | None = None,
                       fix: str = "split the layer") -> None:
    """Refuse, from its header alone, an array that is not numeric, declares more than
    :data:`MAX_ELEMENTS` elements (``fix`` says what to do then), or (``data_bytes``: what
    the file holds after the header) is too short for what it declares."""
    if dtype.hasobject or dtype.kind not in "biuf":
        raise InputError(f"{where} must be a numeric array, not dtype {dtype}")
    count = math.prod(shape)
    if count > MAX_ELEMENTS:
        raise InputError(f"{where} declares shape {shape} ({count:,} elements), more than the limit of "
                         f"{MAX_ELEMENTS:,} elements per array (eie.layer.MAX_ELEMENTS): refused before "
                         f"reading it; {fix}")
    need = count * dtype.itemsize
    if data_bytes is not None and data_bytes < need:
        raise InputError(f"{where} declares shape {shape} of {dtype} ({need:,} bytes) but holds only "
                         f"{data_bytes:,}: the file is truncated or corrupt")


def _npz_headers(path: Path, fh, names=LAYER_ARRAYS, fix: str = "split the layer") -> dict:
    """``{array name: ZipInfo}`` of the ``.npz`` open as ``fh``, every array of ``names``
    checked from its header (:func:`check_array_header`)."""
    members = {}
    with zipfile.ZipFile(fh) as zf:
        for info in zf.infolist():
            key = info.filename[:-4] if info.filename.endswith(".npy") else info.filename
            members[key] = info
            if key not in names:
                continue
            where = f"{key!r} in {str(path)!r}"
            with zf.open(info) as member:
                try:
                    shape, dtype, offset = _read_npy_header(member)
                except (ValueError, EOFError, SyntaxError) as exc:
                    raise InputError(f"{where} is not a readable .npy array: {exc}") from None
            check_array_header(where, shape, dtype, info.file_size - offset, fix)
    return members


def _input_file(path, what: str) -> Path:
    """``path`` as a :class:`Path`, or an :class:`InputError` naming it as ``what`` when it is
    not an existing regular file."""
    path = Path(path)
    if not path.is_file():
        if path.is_dir() and (path / "network.toml").is_file():
            raise InputError(f"{what} {str(path)!r} is a network directory, not a layer file: give one of its "
                             f"layer files (its network.toml lists them), or a command that takes a network "
                             f"directory (eie simulate, eie eval, eie verify)")
        raise InputError(f"{what} {str(path)!r} does not exist" if not path.exists()
                         else f"{what} {str(path)!r} is not a regular file")
    return path


def read_npz(path, names, what: str, fix: str = "split the layer") -> tuple[dict, list[str]]:
    """The arrays ``names`` that the ``.npz`` ``path`` holds, and the names of all it holds.
    Each of ``names`` is checked from its header before anything is decompressed
    (:func:`check_array_header`; ``fix`` is the advice for a too large one); the others are
    never decompressed.  A file that is not a readable archive is an :class:`InputError`
    naming it as ``what`` (``"layer file"``, ``"--data"``)."""
    path = _input_file(path, what)
    try:
        # open the file ourselves so that a corrupt archive never leaks the handle
        with open(path, "rb") as fh:
            members = _npz_headers(path, fh, names, fix)
            fh.seek(0)
            with np.load(fh, allow_pickle=False) as f:
                return {k: f[k] for k in names if k in members}, sorted(members)
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError) as exc:
        if isinstance(exc, InputError):
            raise
        raise InputError(f"{what} {str(path)!r} is not a readable .npz (truncated or corrupt?): {exc}") from None


def read_npy(path, what: str, fix: str, check_shape=None) -> np.ndarray:
    """The array of the ``.npy`` file ``path``, checked from its header first
    (:func:`check_array_header`, ``fix`` the advice for a too large one; then
    ``check_shape(shape)`` if given) before its data is read.  A file that is not a readable
    ``.npy`` (an ``.npz`` archive too) is an :class:`InputError` naming it as ``what``."""
    path = _input_file(path, what)
    try:
        with open(path, "rb") as fh:
            if fh.read(len(_NPY_MAGIC)) != _NPY_MAGIC:
                raise InputError(f"{what} {str(path)!r} is not a .npy array (an .npz archive or another format): "
                                 f"save one array with numpy.save")
            fh.seek(0)
            shape, dtype, offset = _read_npy_header(fh)
            check_array_header(f"{what} {str(path)!r}", shape, dtype, path.stat().st_size - offset, fix)
            if check_shape is not None:
                check_shape(shape)
            fh.seek(0)
            return np.load(fh, allow_pickle=False)
    except (EOFError, OSError, ValueError, SyntaxError) as exc:
        if isinstance(exc, InputError):
            raise
        raise InputError(f"{what} {str(path)!r} is not a readable .npy (truncated or corrupt?): {exc}") from None


def _open_npz(path: Path) -> tuple[dict, list[str]]:
    """The arrays of :data:`LAYER_ARRAYS` a layer file holds, and the names of all it holds."""
    _input_file(path, "layer file")       # a FIFO or a device: refused, not opened (it would block)
    try:
        with open(path, "rb") as fh:
            head = fh.read(len(_NPY_MAGIC))
    except OSError as exc:
        raise InputError(f"layer file {str(path)!r} cannot be read: {exc.strerror or exc}") from None
    if head == _NPY_MAGIC:
        raise InputError(f"layer file {str(path)!r} is a single array (.npy), not a layer archive: "
                         f"save the layer with numpy.savez as 'weight' [and 'bias'] (dense) or "
                         f"'codebook' and 'codes' (compressed)")
    return read_npz(path, LAYER_ARRAYS, "layer file")


def layer_shape(path) -> tuple[int, int]:
    """``(out, in)`` of a layer file, read from the archive's headers (nothing decompressed)."""
    path = _input_file(path, "layer file")
    try:
        with open(path, "rb") as fh:
            members = _npz_headers(path, fh)
            key = "codes" if "codes" in members else "weight" if "weight" in members else None
            if key is None:
                raise InputError(f"layer file {str(path)!r} must hold 'weight' (dense) or 'codebook' and 'codes' "
                                 f"(compressed)")
            fh.seek(0)
            with zipfile.ZipFile(fh) as zf, zf.open(members[key]) as member:
                shape, _, _ = _read_npy_header(member)
    except (zipfile.BadZipFile, EOFError, OSError, ValueError) as exc:
        if isinstance(exc, InputError):
            raise
        raise InputError(f"layer file {str(path)!r} is not a readable .npz (truncated or corrupt?): {exc}") from None
    if len(shape) != 2:
        raise InputError(f"{key!r} in {str(path)!r} must be 2-D (out x in), not shape {shape}")
    return shape[0], shape[1]


def load_layer(path) -> DenseLayer | CompressedLayer:
    """Load a layer ``.npz``: dense (``weight`` [, ``bias``]) or compressed (``codebook``,
    ``codes`` [, ``bias`` | ``bias_codes``] [, ``activations``]).  A compressed layer's
    float ``bias`` is kept at full precision, ``bias_codes`` is the coded bias [arch §2]."""
    path = Path(path)
    d, held = _open_npz(path)
    name = path.stem
    acts = d.get("activations")
    if "codes" in d or "codebook" in d:
        for key in ("codebook", "codes"):
            if key not in d:
                raise InputError(f"layer file {str(path)!r}: compressed layer needs {key!r} next to "
                                 f"{'codes' if key == 'codebook' else 'codebook'!r}")
        if "bias" in d and "bias_codes" in d:
            raise InputError(f"layer file {str(path)!r}: give either 'bias' or 'bias_codes', not both")
        # a float bias stays full precision (the accumulators start from it), bias_codes are
        # the authors' coded bias [arch §2]
        return CompressedLayer(d["codebook"], d["codes"], d.get("bias_codes"), acts, name, bias=d.get("bias"))
    if "weight" in d:
        return DenseLayer(d["weight"], d.get("bias"), acts, name)
    raise InputError(f"layer file {str(path)!r} must hold 'weight' (dense) or 'codebook' and 'codes' "
                     f"(compressed); it holds {held or 'nothing'}")


def load_activations(path, n: int) -> np.ndarray:
    """Load an input vector from ``.npy`` (or the ``activations`` array of an ``.npz``); its
    shape is checked from the header before the data is read."""
    path = _input_file(path, "input file")   # a FIFO or a device: refused, not opened (it would block)
    name = f"input {path.name}"
    try:
        with open(path, "rb") as fh:
            npy = fh.read(len(_NPY_MAGIC)) == _NPY_MAGIC
    except OSError as exc:
        raise InputError(f"input file {str(path)!r} cannot be read: {exc.strerror or exc}") from None
    if npy:
        obj = read_npy(path, "input file", "split the layer",
                       check_shape=lambda shape: _check_vector_shape(name, shape, n))
    else:
        arrays, _ = read_npz(path, ("activations",), "input file")
        if "activations" not in arrays:
            raise InputError(f"input file {str(path)!r} must hold an 'activations' array")
        obj = arrays["activations"]
    return check_activations(obj, n, name=name)


def _check_vector_shape(name: str, shape: tuple, n: int) -> None:
    """The shape rules of :func:`check_activations`, on a header's shape."""
    if len(shape) != 1:
        raise InputError(f"{name} must be 1-D, not shape {shape}")
    if shape[0] != n:
        raise InputError(f"{name} must have one value per input column ({n}), not {shape[0]}")


def _npy_bytes(array) -> bytes:
    buf = io.BytesIO()
    np.save(buf, np.asarray(array), allow_pickle=False)
    return buf.getvalue()


def save_layer(path, layer: DenseLayer | CompressedLayer) -> None:
    """Write a layer file that :func:`load_layer` reads back as the same layer (atomically)."""
    if isinstance(layer, CompressedLayer):
        arrays = layer.arrays()
    else:
        arrays = {"weight": layer.weight}
        for key in ("bias", "activations"):
            if getattr(layer, key) is not None:
                arrays[key] = getattr(layer, key)
    save_npz(path, arrays)


def save_npz(path, arrays: dict) -> None:
    """Write an ``.npz`` atomically (:func:`eie.fileio.write_bytes`: nothing half-written)."""
    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays)
    write_bytes(path, buf.getvalue())


def save_npy(path, array) -> None:
    """Write one array as ``.npy`` atomically."""
    write_bytes(path, _npy_bytes(array))
