"""Numbers quoted from the EIE paper and from the EIE authors' own simulator.

Han et al., "EIE: Efficient Inference Engine on Compressed Deep Neural Network" (ISCA
2016), as collected in the project's facts sheet; each constant names its table or
section.  These are the values the report computes with or compares against, and
nothing else lives here, so a reader can check every published figure in one place.

Not here: the per-layer Table III densities and Table IV times, which are the layer
specs of ``eie/data/table3.toml`` (:func:`eie.bench.load_specs`; a spec file may replace
them), and descriptive mentions that stay in the sentence citing them (the 45 nm node,
the SRAM sizes of a PE).  Mappings are read-only: a report must not edit the paper.
"""

from __future__ import annotations

from types import MappingProxyType

__all__ = ["PAPER_PLATFORMS_US", "PLATFORMS", "HEADLINES", "PAPER_CHIP_MW", "PAPER_PES", "TABLE2_PE_MW",
           "TABLE2_SPMAT_MW", "PAPER_SAVING", "AUTHORS_FC8_CYCLES", "AUTHORS_RING_SLOTS", "PAPER_FC8_US",
           "ALEX8_ACT_PCT", "REAL_FC8_ACT_PCT", "PAPER_TYPOS", "PAPER_ALEX7_256_OVER_64"]

#: Table IV baselines, batch 1, µs: ``(dense, sparse)`` per platform and layer.
PAPER_PLATFORMS_US = MappingProxyType({name: MappingProxyType(by_platform) for name, by_platform in {
    "Alex-6": {"cpu": (7516.2, 3066.5), "gpu": (541.5, 134.8), "mgpu": (12437.2, 2879.3)},
    "Alex-7": {"cpu": (6187.1, 1282.1), "gpu": (243.0, 65.8), "mgpu": (5765.0, 1256.5)},
    "Alex-8": {"cpu": (1134.9, 890.5), "gpu": (80.5, 54.6), "mgpu": (2252.1, 837.0)},
    "VGG-6": {"cpu": (35022.8, 3774.3), "gpu": (1467.8, 167.0), "mgpu": (35427.0, 4377.2)},
    "VGG-7": {"cpu": (5372.8, 545.1), "gpu": (243.0, 39.8), "mgpu": (5544.3, 626.3)},
    "VGG-8": {"cpu": (774.2, 777.3), "gpu": (80.5, 48.0), "mgpu": (2243.1, 745.1)},
    "NT-We": {"cpu": (605.0, 261.2), "gpu": (65.0, 17.7), "mgpu": (1316.0, 240.6)},
    "NT-Wd": {"cpu": (1361.4, 437.4), "gpu": (90.1, 41.1), "mgpu": (2565.5, 570.6)},
    "NT-LSTM": {"cpu": (470.5, 260.0), "gpu": (51.9, 18.5), "mgpu": (956.9, 315.0)},
}.items()})
#: The platforms of Table IV (Sec V), by the keys of :data:`PAPER_PLATFORMS_US`.
PLATFORMS = MappingProxyType({"cpu": "CPU (i7-5930K)", "gpu": "GPU (Titan X)", "mgpu": "mobile GPU (Tegra K1)"})
#: Headlines (abstract, Sec VI) against each platform running the uncompressed (dense)
#: layers: ``(times faster, times less energy)``, geometric means over the nine layers.
HEADLINES = MappingProxyType({"cpu": (189, 24000), "gpu": (13, 3400), "mgpu": (307, 2700)})
#: Chip power, mW (Sec V; the abstract says 600 mW).
PAPER_CHIP_MW = 590.0
#: PEs of the chip (Sec V): Table II's per-PE power times this is the chip's.
PAPER_PES = 64
#: Table II: power of one PE, mW (the "total" row).
TABLE2_PE_MW = 9.157
#: Table II: power of one PE's sparse-matrix read unit (SpmatRead), mW.
TABLE2_SPMAT_MW = 4.955
#: Sec VI: EIE's energy saving over dense weights from DRAM, decomposed into factors.
PAPER_SAVING = MappingProxyType({"dram_to_sram": 120.0, "sparsity": 10.0, "weight_sharing": 8.0,
                                 "zero_activations": 3.0})
#: Cycles of the EIE authors' simulator on the real FC8 layer and vector, 64 PEs, 8-slot ring.
AUTHORS_FC8_CYCLES = 7926
#: Slots of the authors' activation queue, a ring buffer that holds one entry fewer.
AUTHORS_RING_SLOTS = 8
#: Table IV, the real FC8 layer (it is Alex-8): actual and theoretical µs.
PAPER_FC8_US = (9.9, 8.9)
#: Table III: Alex-8's activation density, % (an average over inputs).
ALEX8_ACT_PCT = 37.5
#: Non-zero share, %, of the real FC8 input vector the authors ship with their simulator.
REAL_FC8_ACT_PCT = 42.9
#: Table IV layers whose published theoretical time is a copy (VGG-6's equals Alex-6's).
PAPER_TYPOS = frozenset({"VGG-6"})
#: Sec VI: 256 PEs give this many times the throughput of 64 on Alex-7.
PAPER_ALEX7_256_OVER_64 = 3.25
