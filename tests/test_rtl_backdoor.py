"""Back-door loading (eie.flow.backdoor): the memories from $readmemh images instead of the
host port, on every usable simulator, against the model and against the port: the same
outputs, pass cycles, done-port cycles and counters (only the load differs)."""

from pathlib import Path

import pytest
from test_rtl_cosim import CFG, HW, LAYERS, SIMS, _assert_matches, _case

from eie.errors import InputError
from eie.flow import verify
from eie.flow.backdoor import MEMORY_PATHS, module_ports, split_writes, wrapper_text, write_images
from eie.flow.generate import verilog_text
from eie.flow.host import pass_writes
from eie.hdl.regmap import HostMap


@pytest.mark.parametrize("sim", SIMS)
def test_backdoor_matches_model_and_port(sim):
    """Every layer of the co-simulation suite (several passes each), one with every pass
    resident, and a chained pair (the second layer's input stays on chip)."""
    cases = [_case(CFG, HW, *spec) for spec in LAYERS]
    layers = [c for c, _ in cases]
    layers[1] = dict(layers[1], resident=True)
    layers[2] = dict(layers[2], chain=True)
    b = verify.build(HW, None if sim == "none" else sim)
    by_door = verify.run(b, layers, max_cycles=20_000, name="backdoor", load="backdoor")
    by_port = verify.run(b, layers, max_cycles=20_000, name="port", load="port")
    for res, res_port, (_, ref) in zip(by_door.results, by_port.results, cases, strict=True):
        _assert_matches(res, ref)
        assert res.to_dict() == res_port.to_dict()
    # the load itself: a pulse of bd_load and a few register writes instead of every word
    assert by_door.cycles["load"] < by_port.cycles["load"] / 10
    assert by_door.cycles["compute"] == by_port.cycles["compute"]


def test_memory_paths_are_in_the_verilog():
    text = verilog_text(HW)
    for path in MEMORY_PATHS.values():
        *insts, mem = path.split(".")
        module = "eie_top." + ".".join(["pe0", *insts])
        body = text[text.index(f"module \\{module} "):]
        body = body[:body.index("endmodule")]
        assert f" {mem} [" in body, path
    wrap = wrapper_text(HW, text, "eie_top")
    assert [n for _, _, n in module_ports(wrap, "eie_top_tb")][-1] == "bd_load"
    assert wrap.count("$readmemh") == HW.pes * len(MEMORY_PATHS)


def test_split_writes_and_images(tmp_path):
    hm = HostMap(HW)
    ops = [(hm.bcast("codebook", 1), -2 & (2**64 - 1)), (hm.pe(2, "act", 3), 7), (hm.pe(1, "act_next", 0), 9),
           (hm.pe(0, "spmat", 5), 0xABC), (hm.pe(0, "spmat", 6), 0xDEF), (hm.reg("groups"), 4),
           (hm.pe(3, "ptr_odd", 2), 11), (hm.reg("relu"), 1)]
    images, port = split_writes(HW, ops, src_sel=1)
    assert port == [(hm.reg("groups"), 4), (hm.reg("relu"), 1)]
    assert all(images[f"pe{p}_codebook"] == {1: (1 << CFG.codebook_bits) - 2} for p in range(HW.pes))
    assert images["pe2_bank1"] == {3: 7} and images["pe1_bank0"] == {0: 9}
    write_images(tmp_path, images, HW)
    assert (tmp_path / "pe0_spmat.hex").read_text() == "@5\n" + f"{0xABC:011x}\n{0xDEF:011x}\n"
    assert (tmp_path / "pe3_ptr_odd.hex").read_text() == "@2\n000b\n"


def test_a_pass_image_splits_into_memories_and_registers():
    case, _ = _case(CFG, HW, *LAYERS[0])
    ops = pass_writes(HW, case["jobs"][0]["image"])
    images, port = split_writes(HW, ops, 0)
    assert sum(len(v) for v in images.values()) + len(port) >= len(ops)
    assert all(HostMap(HW).decode(a)[0] == "reg" for a, _ in port)


def test_backdoor_needs_behavioural_memories():
    b = verify.Build(HW, "verilator", "eie_top", Path("."), None, False, bus="parallel", backdoor=False)
    with pytest.raises(InputError, match="back door needs behavioural memories"):
        verify.run(b, [], max_cycles=10, load="backdoor")
    with pytest.raises(InputError, match="load must be one of port, backdoor"):
        verify.run(b, [], max_cycles=10, load="cable")
