"""Layers from a flat set of named tensors (a PyTorch state dict, a safetensors file, an npz).

Such files hold no graph, only names, so the layers are found by the naming convention
PyTorch modules use (docs/networks.md, "State dicts"):

* ``P.weight`` (2-D, out x in) with or without ``P.bias`` (1-D, out): a fully-connected
  layer ``P``; without a bias not when ``P``'s last name holds ``emb`` (an embedding table
  looks the same).  A pruned weight (``P.weight_orig`` x ``P.weight_mask``) or a weight-normed
  one (``P.weight_g``/``P.weight_v``, ``P.parametrizations.weight.original0``/``1``) is the
  weight PyTorch computes with.
* ``P.weight`` with 3 or more dimensions (out x in x k...): a convolution, flattened to
  ``out x (in*k...)`` (kind ``conv``: storage only); its bias is optional.
* ``P.weight_ih_l0`` + ``P.weight_hh_l0`` [+ ``P.bias_ih_l0`` + ``P.bias_hh_l0``] (an
  ``nn.LSTM`` layer; ``_l1``... further layers, ``_reverse`` the second direction) or the
  same without ``_l0`` (an ``nn.LSTMCell``): an LSTM layer ``[W_ih | W_hh]`` with bias
  ``b_ih + b_hh`` and PyTorch's gate order i, f, g, o.  A GRU (3H rows) and an LSTM with
  ``proj_size`` are not eie's LSTM and are left out.

Every tensor no layer takes is listed, by module, with the reason; a module left out
between two layers that run makes the import refuse (unless ``--select`` names the layers,
:func:`eie.importers.result.network_plan`).

The separator before ``weight``/``bias`` may be ``.``, ``/`` or ``_``; a file holding just
``weight`` and ``bias`` is one layer named after the file, and a bare ``nn.LSTM``'s state dict
(``weight_ih_l0``, ...) LSTM layers named after the file (``rnn.l0``, ``rnn.l0.reverse``).  The function after each layer
is unknown without a graph: ReLU after every layer but the last (LSTM layers: none).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np

from ..errors import InputError
from ..layer import check_array_header
from .result import ImportedLayer, as_float, guess_functions

__all__ = ["TensorInfo", "natural_key", "layers_from_tensors"]

_LEAF = re.compile(r"^(?:(?P<prefix>.*?)[./_])?(?P<leaf>weight|bias)\Z", re.S)
_RNN = re.compile(r"^(?:(?P<prefix>.*?)[./_])?(?P<leaf>weight|bias)_(?P<side>ih|hh)(?P<layer>_l\d+)?(?P<rev>_reverse)?\Z", re.S)


@dataclass(frozen=True)
class TensorInfo:
    """A tensor's shape and dtype (from the file's header), and how to read it."""

    shape: tuple[int, ...]
    dtype: str
    load: Callable[[], np.ndarray]


def natural_key(name: str):
    """Sort key that orders ``layer.2`` before ``layer.10``."""
    return [(0, int(t), "") if t.isdigit() else (1, 0, t) for t in re.split(r"(\d+)", name) if t]


@dataclass
class _Found:
    name: str
    kind: str
    order: int
    weight: str                      # the weight's key (for a normed one: its main tensor)
    bias: str | None = None
    hh: str | None = None
    bias_hh: str | None = None
    reverse: bool = False
    #: how the weight is stored: ``plain`` (a pruned one too: :func:`_pruned` made it plain);
    #: ``norm`` (``g`` x ``v / |v|``: weight_norm, old or parametrized); ``spectral``
    #: (``W / sigma``, ``sigma = u . (W v)``: spectral_norm, old or parametrized)
    form: str = "plain"
    extra: tuple[str, ...] = ()      # the other tensors of that form (g; u and v)

    def keys(self) -> set[str]:
        return {k for k in (self.weight, self.bias, self.hh, self.bias_hh, *self.extra) if k}


def _get(tensors: Mapping[str, TensorInfo], key: str, where: str) -> np.ndarray:
    info = tensors[key]
    # the element count from the header, before anything is read (eie.layer.MAX_ELEMENTS)
    check_array_header(f"{where}: tensor {key!r}", tuple(info.shape), np.dtype("float32"))
    a = info.load()
    if tuple(a.shape) != tuple(info.shape):
        raise InputError(f"{where}: tensor {key!r} holds shape {a.shape}, its header says {info.shape}")
    if a.dtype.kind not in "fiu":
        raise InputError(f"{where}: tensor {key!r} must be numeric, not {a.dtype}")
    a = as_float(a)
    if not np.all(np.isfinite(a)):
        raise InputError(f"{where}: tensor {key!r} holds a value that is not finite (NaN or infinity)")
    return a


def _weight(tensors: Mapping[str, TensorInfo], f: _Found, where: str) -> np.ndarray:
    """The weight ``f`` stands for: the tensor itself, ``W / sigma`` (spectral norm), or
    ``g * v / |v|`` (weight norm; the norm over the axes where ``g`` has size 1)."""
    w = _get(tensors, f.weight, where)
    if f.form == "spectral":
        # torch's spectral norm in eval mode: the weight over sigma = u . (W v), W as out x rest
        if w.size == 0 or not np.any(w):
            return w                         # empty or all zero: ImportedLayer.problem() says so when written
        u, v = (_get(tensors, k, where) for k in f.extra)
        if u.ndim != 1 or v.ndim != 1:
            raise InputError(f"{where}: spectral-norm vectors {f.extra[0]!r} {u.shape} and {f.extra[1]!r} {v.shape} "
                             f"must be 1-D")
        mat = w.reshape(w.shape[0], -1).astype(np.float64)
        if u.shape != (mat.shape[0],) or v.shape != (mat.shape[1],):
            raise InputError(f"{where}: spectral-norm vectors {f.extra[0]!r} {u.shape} and {f.extra[1]!r} {v.shape} "
                             f"do not fit the weight {f.weight!r} {w.shape}")
        sigma = float(u @ (mat @ v))
        if not np.isfinite(sigma) or sigma == 0:
            raise InputError(f"{where}: spectral norm of {f.weight!r} is {sigma!r}: the weight cannot be recovered")
        with np.errstate(over="ignore"):     # beyond float32: ImportedLayer.problem() says so when written
            return (w / sigma).astype(w.dtype)
    if f.form == "norm":
        g = _get(tensors, f.extra[0], where)
        if g.ndim not in (0, w.ndim) or any(a not in (1, b) for a, b in zip(g.shape, w.shape, strict=False)):
            raise InputError(f"{where}: weight-norm magnitude {f.extra[0]!r} has shape {g.shape}, which does not "
                             f"broadcast over its direction {f.weight!r} {w.shape}")
        axes = tuple(i for i in range(w.ndim) if g.ndim == 0 or g.shape[i] == 1)
        norm = np.sqrt(np.sum(np.square(w, dtype=np.float64), axis=axes, keepdims=True))
        with np.errstate(divide="ignore", invalid="ignore"):
            out = np.where(norm > 0, w * (g / norm), 0.0)
        return out.astype(w.dtype)
    return w


_SPECTRAL_OLD = re.compile(r"^(?:(?P<prefix>.*?)[./_])?weight_orig\Z", re.S)
_NORM_OLD = re.compile(r"^(?:(?P<prefix>.*?)[./_])?weight_v\Z", re.S)
_SPECTRAL_NEW = re.compile(r"^(?:(?P<prefix>.*?)[./])?parametrizations[./]weight[./]original\Z", re.S)
_NORM_NEW = re.compile(r"^(?:(?P<prefix>.*?)[./])?parametrizations[./]weight[./]original1\Z", re.S)
#: a module name that says "embedding table" (a word of its last name: ``tok_embeddings``,
#: ``wte``), whatever its shape
_EMBEDDING = re.compile(r"(?:^|[._/-])(?:emb|embed|embeds|embedding|embeddings|wte|wpe)$", re.IGNORECASE)


def _bias_of(tensors, stem: str) -> str | None:
    """The bias key of a layer whose keys start with ``stem`` (``fc.``), if it has one."""
    return stem + "bias" if stem + "bias" in tensors else None


def _group(key: str) -> str:
    """The module a tensor belongs to (``bn1`` of ``bn1.running_mean``)."""
    cut = max(key.rfind("."), key.rfind("/"))
    return key[:cut] if cut > 0 else key


def _pruned(tensors: Mapping[str, TensorInfo], where: str) -> tuple[dict, dict]:
    """``tensors`` with every pruned tensor (``X_orig`` x ``X_mask``, torch.nn.utils.prune: a
    layer's weight or bias, an LSTM's ``weight_hh_l0``) as the tensor ``X`` it stands for, in
    the original's place; and which two tensors each such one is made of.  (A spectral norm's
    ``weight_orig`` has no mask: it stays.)"""
    out, parts = {}, {}
    for key, info in tensors.items():
        base = key[: -len("_orig")] if key.endswith("_orig") else None
        mask = tensors.get(f"{base}_mask") if base is not None else None
        if mask is not None:
            if tuple(mask.shape) != tuple(info.shape):
                what = "bias" if base.endswith("bias") else "weight"
                raise InputError(f"{where}: pruning mask {base + '_mask'!r} has shape {tuple(mask.shape)}, its {what} "
                                 f"{key!r} {tuple(info.shape)}: they must agree")
            out[base] = TensorInfo(info.shape, info.dtype, lambda o=info, m=mask: np.asarray(o.load()) * m.load())
            parts[base] = (key, f"{base}_mask")
        elif not (key.endswith("_mask") and f"{key[: -len('_mask')]}_orig" in tensors):
            out[key] = info
    return out, parts


def _find(tensors: Mapping[str, TensorInfo], stem: str,
          parts: dict | None = None) -> tuple[list[_Found], dict[str, tuple[int, str]]]:
    """The layers among ``tensors`` and what is left out: module -> (position, reason)
    (``parts``: tensors made of two others, :func:`_pruned`)."""
    found: dict[str, _Found] = {}
    maybe: dict[str, _Found] = {}
    reasons: dict[str, str] = {}
    order = {key: i for i, key in enumerate(tensors)}
    for i, key in enumerate(tensors):
        shape = tensors[key].shape
        m = _SPECTRAL_OLD.match(key)
        u_v = (key[: -len("orig")] + "u", key[: -len("orig")] + "v")
        if m and all(k in tensors for k in u_v):
            if len(shape) >= 2:                  # spectral norm (old style): weight_orig, weight_u, weight_v
                found[key] = _Found(m["prefix"] or stem, "conv" if len(shape) >= 3 else "fc", i, key,
                                    _bias_of(tensors, key[: -len("weight_orig")]), form="spectral", extra=u_v)
            continue
        m = _SPECTRAL_NEW.match(key)
        if m:
            u_v = (key[: -len("original")] + "0._u", key[: -len("original")] + "0._v")
            if len(shape) >= 2 and all(k in tensors for k in u_v):
                found[key] = _Found(m["prefix"] or stem, "conv" if len(shape) >= 3 else "fc", i, key,
                                    _bias_of(tensors, key[: key.rindex("parametrizations")]), form="spectral",
                                    extra=u_v)
            continue
        m = _NORM_OLD.match(key) or _NORM_NEW.match(key)
        if m:
            g = key[: -len("v")] + "g" if key.endswith("weight_v") else key[: -len("1")] + "0"
            head = key[: -len("weight_v")] if key.endswith("weight_v") else key[: key.rindex("parametrizations")]
            if g in tensors and len(shape) >= 2:
                found[key] = _Found(m["prefix"] or stem, "conv" if len(shape) >= 3 else "fc", i, key,
                                    _bias_of(tensors, head), form="norm", extra=(g,))
            continue
        m = _LEAF.match(key)
        if m and m["leaf"] == "weight":
            prefix = m["prefix"] or stem
            bias = _bias_of(tensors, key[: -len("weight")])
            if len(shape) >= 3:
                found[key] = _Found(prefix, "conv", i, key, bias)
            elif len(shape) == 2 and bias is not None:
                found[key] = _Found(prefix, "fc", i, key, bias)
            elif len(shape) == 2 and not _EMBEDDING.search(prefix):
                maybe[key] = _Found(prefix, "fc", i, key, None)      # a Linear(bias=False), or a lookup table
            elif len(shape) == 2:
                reasons[_group(key)] = "an embedding table (a lookup, not a layer)"
            continue
        m = _RNN.match(key)
        if m and m["leaf"] == "weight" and m["side"] == "ih":
            suffix = (m["layer"] or "") + (m["rev"] or "")
            base = key[: -len("weight_ih" + suffix)]
            hh, b_ih, b_hh = base + "weight_hh" + suffix, base + "bias_ih" + suffix, base + "bias_hh" + suffix
            if hh not in tensors:
                continue
            hr = base + "weight_hr" + suffix
            h4 = shape[0] if len(shape) == 2 else 0
            hshape = tensors[hh].shape
            if hr in tensors:
                reasons[_group(key)] = "an LSTM with proj_size (weight_hr): eie's LSTM has no projection"
                continue
            if len(shape) != 2 or len(hshape) != 2 or h4 % 4 or hshape != (h4, h4 // 4):
                reasons[_group(key)] = ("a GRU (3H gate rows), not an LSTM" if len(hshape) == 2 and hshape[0] == 3 * hshape[1]
                                        else "a recurrent layer that is not an LSTM")
                continue
            name = (m["prefix"] or stem) + (m["layer"] or "").replace("_l", ".l") + (".reverse" if m["rev"] else "")
            found[key] = _Found(name, "lstm", i, key, b_ih if b_ih in tensors else None, hh,
                                b_hh if b_hh in tensors else None, bool(m["rev"]))
    _lstm_order(found)
    _take_bias_free(tensors, found, maybe, reasons)
    used = set().union(*(f.keys() for f in found.values())) if found else set()
    used |= {k for key in used & set(parts or {}) for k in parts[key]}
    members: dict[str, list[str]] = {}
    for key in tensors:
        if key not in used:
            members.setdefault(_group(key), []).append(key)
    left: dict[str, tuple[int, str]] = {}
    for mod, keys in members.items():
        held = [k for key in keys for k in (parts or {}).get(key, (key,))]     # a pruned tensor: the two held
        shown = ", ".join(held[:4]) + (", ..." if len(held) > 4 else "")
        why = reasons.get(mod, "not a layer eie imports (a fully-connected weight, a convolution, an LSTM)")
        left[mod] = (order[keys[0]], f"{mod!r} ({shown}): {why}")
    return sorted(found.values(), key=lambda f: f.order), left


#: an LSTM layer's name ends in its layer number and direction (``rnn.l1.reverse``)
_LSTM_LAYER = re.compile(r"\.l(\d+)(\.reverse)?\Z")


def _lstm_order(found: dict) -> None:
    """An LSTM module's layers in the order they run (l0, l0.reverse, l1, ...), in the places
    its layers hold: pruning moves ``weight_ih_l0_orig`` to the end of the module's tensors,
    so the file's order had put l1 before l0."""
    groups: dict[str, list[tuple]] = {}
    for f in found.values():
        m = _LSTM_LAYER.search(f.name) if f.kind == "lstm" else None
        if m:
            groups.setdefault(f.name[: m.start()], []).append(((int(m[1]), bool(m[2])), f))
    for members in groups.values():
        slots = sorted(f.order for _, f in members)
        for (_, f), slot in zip(sorted(members, key=lambda rf: rf[0]), slots, strict=True):
            f.order = slot


def _dims(tensors, f: _Found) -> tuple[int, int]:
    """``(inputs, outputs)`` of a fully-connected or LSTM candidate (after a bidirectional
    LSTM's second direction: both directions' outputs, 2H)."""
    shape = tensors[f.weight].shape
    if f.kind == "fc":
        return shape[1], shape[0]
    return shape[1], shape[0] // 4 * (2 if f.reverse else 1)


def _take_bias_free(tensors, found: dict, maybe: dict, reasons: dict) -> None:
    """A 2-D weight without a bias is a ``Linear(bias=False)`` when it chains with the layer
    before or after it (its inputs are that one's outputs, or its outputs that one's inputs)
    or is the file's only layer; otherwise it is left out as what it more likely is, an
    embedding table (a word-language model's ``encoder``, vocabulary x width, had become a
    ReLU layer in front of its LSTM)."""
    chain = sorted([f for f in found.values() if f.kind in ("fc", "lstm")] + list(maybe.values()),
                   key=lambda f: f.order)
    for key, f in maybe.items():
        i = chain.index(f)
        n_in, n_out = _dims(tensors, f)
        before = i > 0 and _dims(tensors, chain[i - 1])[1] == n_in
        after = i + 1 < len(chain) and _dims(tensors, chain[i + 1])[0] == n_out
        feeds_lstm = i + 1 < len(chain) and chain[i + 1].kind == "lstm"
        # in front of an LSTM with nothing before it is what an embedding table is (char-rnn's
        # encoder, 100 x 100, "chained" with its LSTM's 100 inputs)
        if before or (after and not feeds_lstm) or len(chain) == 1:
            found[key] = f
        else:
            reasons[_group(key)] = (f"a 2-D weight without a bias ({n_out} x {n_in}) that "
                                    + ("feeds an LSTM with nothing before it" if after else
                                       "chains with neither neighbouring layer")
                                    + ": an embedding table, or a Linear(bias=False) eie cannot place in the chain")


def layers_from_tensors(tensors: Mapping[str, TensorInfo], where: str, stem: str,
                        ordered: bool = True) -> tuple[list[ImportedLayer], list[str], list[str]]:
    """The layers among ``tensors`` (in their order), read and converted, what is left out
    (one line per module), and which of those may sit between two layers that run (a chain
    that skips them computes something else): those between them in the file's order, or,
    when the file's order is not the model's (``ordered`` False: a safetensors file, an npz
    sorted by name), every one when two or more layers run.  ``where`` (the file) starts every
    error, ``stem`` names a layer stored as bare ``weight``/``bias``."""
    out: list[ImportedLayer] = []
    positions: list[int] = []
    tensors, parts = _pruned(tensors, where)

    def shown(key: str) -> str:                 # a pruned tensor as the two the file holds
        return " x ".join(parts[key]) if key in parts else key

    found, left = _find(tensors, stem, parts)
    for f in found:
        shape = tensors[f.weight].shape
        origin = shown(f.weight) + "".join(f" / {k}" for k in f.extra) + (f" + {shown(f.bias)}" if f.bias else "")
        if f.kind == "lstm":
            h4, x = shape
            w = np.concatenate([_get(tensors, f.weight, where), _get(tensors, f.hh, where)], axis=1)
            bias = None
            for key in (f.bias, f.bias_hh):
                if key is not None:
                    b = _get(tensors, key, where)
                    if b.shape != (h4,):
                        raise InputError(f"{where}: LSTM bias {key!r} has shape {b.shape}, not ({h4},)")
                    bias = b if bias is None else bias + b
            out.append(ImportedLayer(f.name, "lstm", weight=w, bias=bias, hidden=h4 // 4, input=x, gates="ifgo",
                                     direction="reverse" if f.reverse else "forward",
                                     origin=f"{shown(f.weight)} + {shown(f.hh)}" + (" + biases" if bias is not None else "")))
            positions.append(f.order)
            continue
        w = _weight(tensors, f, where)
        if f.kind == "conv":
            w = w.reshape(shape[0], math.prod(shape[1:]))
        b = _get(tensors, f.bias, where) if f.bias else None
        if b is not None and b.shape != (shape[0],):
            if f.kind == "fc":
                raise InputError(f"{where}: bias {f.bias!r} has shape {b.shape} but weight {f.weight!r} has "
                                 f"{shape[0]} output rows: they must agree")
            b = None
        out.append(ImportedLayer(f.name, f.kind, weight=w, bias=b, origin=origin))
        positions.append(f.order)
    layers = guess_functions(out)
    left_out = sorted(left.values())                     # (position, text), in the file's order
    runs = [p for p, layer in zip(positions, layers, strict=True) if layer.runs]
    gaps = [text for pos, text in left_out if len(runs) > 1 and (not ordered or runs[0] < pos < runs[-1])]
    skipped = [text for _, text in left_out]
    return layers, skipped, gaps
