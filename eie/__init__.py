"""eie: a toolkit for EIE-style sparse neural-network accelerators (Han et al., ISCA 2016).

The package's floors, bottom to top (docs/architecture.md, "Package layout"): ``errors``,
``config``, ``fileio``, ``layer``; ``compress``, ``fixed``, ``reference``, ``compile``,
``model``, ``energy``, ``area``, ``prepare``; ``pipeline``, ``bench``, ``sweep``, ``report``,
``dse``, ``train``; the hardware ``hdl`` (Amaranth, what is synthesised) and its flow ``flow``
(Verilog, host driver, co-simulation, verification, synthesis); the command line ``cli``.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("eie")
except PackageNotFoundError:          # running from a source tree that was never installed
    __version__ = "0+unknown"

__all__ = ["__version__"]
