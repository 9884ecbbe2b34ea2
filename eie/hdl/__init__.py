"""The EIE array in Amaranth 0.5 [arch §5]: one file per unit of the contract.

================ ===========================================================
``lnzd``         LNZD node and tree, CCU pre-scanner and broadcaster (§5.1)
``src_prefetch`` the CCU's source prefetch (§5.1)
``ccu_items``    the CCU's item FIFO (§5.1)
``act_queue``    activation queue (§5.2)
``ptr_read``     even/odd pointer banks, pop and issue (§3, §5.3)
``spmat_read``   sparse-matrix line memory, last-line buffer, entry select (§5.4)
``arith``        codebook, row accumulation, multiply, round-shift, accumulate, bypass (§5.5)
``act_rw``       activation banks, destination register file, write-out, swap (§5.6)
``pe``           one PE
``top``          the array, its pass sequencer and its host port (§5.7)
``interfaces``   the signatures between the units
``bram``         block RAM with output register
``params``       ``HWConfig`` (plain Python)
``regmap``       the host register map (plain Python)
``busmap``       the host map on 32-bit buses: Wishbone words, UART frames (plain Python)
``wishbone``     a Wishbone B4 slave in front of the array
``uart``         UART (8N1) and the UART-to-Wishbone bridge
``board``        the array on a board: bridge + Wishbone + array; clock, PLL, pins
``pll``          PLL divider search, ECP5 and iCE40 (plain Python)
================ ===========================================================

The flow (Verilog, host driver, simulators, synthesis) is :mod:`eie.flow`.
"""

from .params import HWConfig

__all__ = ["HWConfig"]
