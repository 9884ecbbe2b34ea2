"""The EIE array in Amaranth 0.5 [arch §5]: one file per unit of the contract.

=============== ===========================================================
``lnzd``        LNZD node and tree, CCU scanner (§5.1)
``act_queue``   activation queue (§5.2)
``ptr_read``    even/odd pointer banks, pop and issue (§3, §5.3)
``spmat_read``  sparse-matrix line memory, last-line buffer, entry select (§5.4)
``arith``       codebook, row accumulation, multiply, round-shift, accumulate, bypass (§5.5)
``act_rw``      activation banks, destination register file, write-out, swap (§5.6)
``pe``          one PE
``top``         the array and its host port (§5.7)
``host``        host address map, protocol and a backend-independent driver
``cosim``       Verilog generation and cocotb/Verilator (or Icarus) co-simulation
=============== ===========================================================
"""

from .params import HWConfig

__all__ = ["HWConfig"]
