"""cocotb testbench: run host-port jobs on the generated EIE array (see eie.hdl.cosim).

The case file (``$EIE_CASE``, JSON) holds the hardware configuration and a list of layers
(jobs made by ``eie.hdl.host.layer_jobs``, run in order in one simulation); the result
(``$EIE_RESULT``) is the list of their ``LayerResult`` as JSON.
The same protocol code as the Amaranth-simulator backend drives the bus
(:class:`eie.hdl.host.HostDriver`), so a difference between them is a difference of the
simulated hardware, not of the test.  Every pass has a max-cycles guard.
"""

import json
import os
from pathlib import Path

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import FallingEdge, RisingEdge

from eie.hdl.cosim import CocotbDriver, hw_from_dict


@cocotb.test()
async def run_case(dut):
    case = json.loads(Path(os.environ["EIE_CASE"]).read_text())
    hw = hw_from_dict(case["hw"])
    Clock(dut.clk, 10, unit="ns").start()
    dut.addr.value = 0
    dut.wdata.value = 0
    dut.we.value = 0
    dut.re.value = 0
    dut.rst.value = 1
    for _ in range(3):
        await RisingEdge(dut.clk)
    await FallingEdge(dut.clk)
    dut.rst.value = 0
    drv = CocotbDriver(hw, dut)
    results = []
    for i, layer in enumerate(case["layers"]):
        res = await drv.run_jobs(layer["jobs"], layer["n_out"], max_cycles=case["max_cycles"],
                                 preloaded=case["preload"] and i == 0, load_act=layer.get("load_act", True),
                                 chain=layer.get("chain", False), resident=layer.get("resident", False))
        results.append(res.to_dict())
    with open(os.environ["EIE_RESULT"], "w") as f:
        json.dump(results, f)
