"""The reference hardware configurations: one owner for each.

* :data:`DEVICE_REFERENCES` — per FPGA device, the configuration that fits it
  (``eie synth --reference``, the committed design ``eie_ecp5_4pe``, reports/fpga/).
* :data:`REFERENCES` — the designs whose Verilog the manifest ``hdl/manifest.json``
  describes (with a SHA-256 of every text): ``committed`` ones are in git as text and
  co-simulated exactly as committed; the others (the paper's 64 PEs, 11 MB) are generated
  on demand (``eie rtl --reference DIR --design NAME``) and checked against the manifest's
  hash.  ``eie rtl --reference hdl`` regenerates ``hdl/``; ``--check`` only compares.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from ..config import EIEConfig
from ..errors import InputError
from ..fileio import write_text
from ..hdl.params import HWConfig
from .generate import design_info, generator_versions, header, verilog_text

__all__ = ["DEVICE_REFERENCES", "device_reference", "Reference", "REFERENCES", "REGENERATE", "regenerate_command", "reference",
           "reference_text", "reference_manifest", "stale_reference", "write_reference"]


def regenerate_command(directory) -> str:
    """The command that regenerates the reference designs in ``directory`` (``--check``
    added: checks them)."""
    return f"eie rtl --reference {directory}"


#: the one command that regenerates ``hdl/`` (and, with ``--check``, checks it)
REGENERATE = regenerate_command("hdl")

#: per (family, device): the :class:`EIEConfig` fields of the configuration that fits it
DEVICE_REFERENCES = {
    # docs/fpga.md: 4 PEs x (16 KiB sparse matrix + 2 x 1 K pointers) = 40 of the 56 DP16KD
    # of an ECP5-25k; the two 1 K x 16 activation banks per PE add 8 more (48 of 56).
    # 16 KiB = 16,384 entries, inside the reach of 16-bit pointers.  125 MHz is the clock
    # to plan on (docs/fpga.md); it only scales time, never the Verilog.
    ("ecp5", "25k"): dict(pes=4, clock_mhz=125.0, spmat_kb=16, ptr_kb=4, act_sram_kb=2),
    ("ecp5", "45k"): dict(pes=8, clock_mhz=125.0, spmat_kb=16, ptr_kb=4, act_sram_kb=2),
    ("ecp5", "85k"): dict(pes=16, clock_mhz=125.0, spmat_kb=16, ptr_kb=4, act_sram_kb=2),
    # iCE40 has no LUT RAM: the descriptor FIFO (ITEM_SLOTS + queue_depth + 1 descriptors of
    # ~70 bits) is block RAM there (HWConfig.desc_fifo, 5 EBR per PE); as flip-flops it filled
    # 89 % of the HX8K.  One PE with a 4-entry queue and 16 accumulators: 1 KiB lines,
    # 2 x 128 pointers, 2 x 256 activations.  Clocks to plan on (they scale time only): the HX8K
    # routes the PE at 53-57 MHz (reports/fpga), the UP5K at 38 MHz in the iCEBreaker build
    # (reports/fpga/boards)
    ("ice40", "hx8k"): dict(pes=1, clock_mhz=48.0, spmat_kb=1, ptr_kb=0.5, act_sram_kb=0.5, regfile_entries=16,
                            queue_depth=4),
    ("ice40", "up5k"): dict(pes=1, clock_mhz=24.0, spmat_kb=1, ptr_kb=0.5, act_sram_kb=0.5, regfile_entries=16,
                            queue_depth=4),
}


def device_reference(target: str, device: str, *, vendor: str | None = None, **overrides) -> HWConfig:
    """The reference :class:`HWConfig` of a device (memory depths from the configuration's KiB;
    ``vendor`` defaults to the family's primitives)."""
    if (target, device) not in DEVICE_REFERENCES:
        known = ", ".join(f"{t} {d}" for t, d in DEVICE_REFERENCES)
        raise InputError(f"no reference configuration for {target} {device}; known: {known}")
    cfg = EIEConfig(**{**DEVICE_REFERENCES[(target, device)], **overrides})
    return HWConfig(cfg, vendor=target if vendor is None else vendor)


@dataclass(frozen=True)
class Reference:
    """A reference design: ``<name>.v`` with top-level module ``<name>``."""

    name: str
    hw: HWConfig
    summary: str
    committed: bool          # its text is in git (else only its hash, in the manifest)


REFERENCES: tuple[Reference, ...] = (
    # the small FPGA array, generic memories (the co-simulated text; eie synth uses DP16KD)
    Reference("eie_ecp5_4pe", device_reference("ecp5", "25k", vendor="generic"),
              "small FPGA array: 4 PEs, 16 KiB sparse-matrix SRAM, 2 x 1 K pointers, 2 x 1 K activations "
              "per PE (ECP5-25k)", committed=True),
    # The paper's design point [arch §1]: every SRAM at its Table/Sec. V size.  16-bit
    # pointers reach 65,535 entries, half of the 128 KiB SRAM (the paper's number; a layer
    # that fills it needs ptr_bits=17, which the capacity check enforces).
    Reference("eie_paper_64pe", HWConfig(EIEConfig()),
              "the paper's design point: 64 PEs, 128 KiB sparse-matrix SRAM, 32 KiB pointers, 2 KiB "
              "activations per PE", committed=False),
)


def reference(name: str) -> Reference:
    for ref in REFERENCES:
        if ref.name == name:
            return ref
    raise InputError(f"no reference design {name!r}; choose from {', '.join(r.name for r in REFERENCES)}")


def reference_text(ref: Reference) -> str:
    """The Verilog text of a reference design, header included."""
    return header(ref.name, ref.hw, REGENERATE) + verilog_text(ref.hw, top=ref.name)


def reference_manifest(texts: dict[str, str]) -> dict:
    """The manifest of every reference design, from ``{name: text}`` of all of them."""
    designs = []
    for ref in REFERENCES:
        designs.append({"file": f"{ref.name}.v", "summary": ref.summary, "committed": ref.committed,
                        **design_info(ref.hw, ref.name, texts[ref.name])})
    banner = next((ln for ln in texts[REFERENCES[0].name].splitlines() if ln.startswith("/* Generated by")), None)
    return {"generator": {"command": REGENERATE, "check": f"{REGENERATE} --check", **generator_versions(),
                          "yosys_banner": banner},
            "designs": designs}


def _texts(progress=None, names=None) -> dict[str, str]:
    out = {}
    for ref in REFERENCES:
        if names is not None and ref.name not in names:
            continue
        if progress:
            progress(ref.name)
        out[ref.name] = reference_text(ref)
    return out


def stale_reference(directory, *, committed_only: bool = False, progress=None) -> list[str]:
    """One message per way ``directory`` differs from a fresh generation (empty: fresh).

    Committed designs are compared text for text (naming the first differing line), the
    others by their hash in the manifest (and their text too when the file is there);
    ``committed_only`` skips generating the others (their hashes in the manifest are then
    not checked)."""
    directory = Path(directory)
    # the command that regenerates this directory (the repository's hdl/: REGENERATE)
    fix = f"regenerate with `{regenerate_command(directory)}`"
    try:
        made = json.loads((directory / "manifest.json").read_text())
    except (OSError, ValueError):
        return [f"{directory / 'manifest.json'} is missing or unreadable: {fix}"]
    recorded = {d.get("file"): d for d in made.get("designs", [])}
    names = [r.name for r in REFERENCES if r.committed or not committed_only]
    texts = _texts(progress, names)
    problems = []
    for ref in REFERENCES:
        if ref.name not in texts:
            continue
        text = texts[ref.name]
        sha = hashlib.sha256(text.encode()).hexdigest()
        rec = recorded.get(f"{ref.name}.v")
        if rec is None or rec.get("sha256") != sha:
            problems.append(f"{directory / 'manifest.json'}: the hash of {ref.name}.v is stale: {fix}")
        path = directory / f"{ref.name}.v"
        if ref.committed and not path.exists():
            problems.append(f"{path} is missing: {fix}")
        elif path.exists() and path.read_bytes() != text.encode():
            problems.append(f"{path} is stale ({_first_difference(path.read_text(errors='replace'), text)}): {fix}")
    if not committed_only:
        fresh = reference_manifest(texts)
        if json.dumps(fresh, sort_keys=True) != json.dumps(made, sort_keys=True):
            problems.append(f"{directory / 'manifest.json'} is stale: {fix}")
    if problems:
        now = generator_versions()
        diff = [f"{k} {made.get('generator', {}).get(k)} -> {v}" for k, v in now.items()
                if made.get("generator", {}).get(k) != v]
        if diff:
            problems.append(f"note: {directory} was generated with other tool versions ({', '.join(diff)})")
    return problems


def _first_difference(old: str, new: str) -> str:
    a, b = old.splitlines(), new.splitlines()
    for i, (x, y) in enumerate(zip(a, b, strict=False)):
        if x != y:
            return f"first difference at line {i + 1}: committed {x[:80]!r}, generated {y[:80]!r}"
    return f"committed {len(a)} lines, generated {len(b)}"


def write_reference(directory, *, force: bool = False, designs=None, progress=None) -> list[tuple[str, str]]:
    """Write the reference designs into ``directory``: by default the committed ones and the
    manifest (with the hash of every design, so every design is generated);
    ``designs=[name, ...]`` writes those designs' Verilog too (e.g. the 64-PE one, on
    demand).  A file that exists with other content is only replaced with ``force``.
    Returns ``[(file, "wrote"|"unchanged")]``."""
    directory = Path(directory)
    if not directory.parent.is_dir():
        raise InputError(f"output directory {str(directory)!r}: {str(directory.parent)!r} does not exist")
    if directory.exists() and not directory.is_dir():
        raise InputError(f"output directory {str(directory)!r} is a file")
    wanted = {r.name for r in REFERENCES if r.committed} | {reference(d).name for d in (designs or ())}
    texts = _texts(progress)
    files = {f"{n}.v": t for n, t in texts.items() if n in wanted}
    files["manifest.json"] = json.dumps(reference_manifest(texts), indent=1) + "\n"
    changed = [n for n, t in files.items() if (directory / n).exists() and (directory / n).read_text() != t]
    if changed and not force:
        raise InputError(f"{str(directory / changed[0])!r} exists with other content: use --force to overwrite it")
    directory.mkdir(exist_ok=True)
    return [(name, "wrote" if write_text(directory / name, text, if_changed=True) else "unchanged")
            for name, text in files.items()]
