"""Defects a new user's walk through README and docs found (second round): help texts that
named the wrong defaults, options that meant different things in different commands, and
messages that pointed at flags that do not exist."""

import dataclasses
import re

import numpy as np
import pytest
from conftest import REPO

from eie.cli import main
from eie.config import EIEConfig


def help_text(capsys, *cmd) -> str:
    with pytest.raises(SystemExit):
        main([*cmd, "--help"])
    return re.sub(r"\s+", " ", capsys.readouterr().out)


@pytest.mark.parametrize("cmd", ["rtl", "verify"])
def test_rtl_help_names_the_reference_defaults(cmd, capsys):
    """eie rtl / eie verify start from the 4-PE ECP5-25k reference (models/ecp5_4pe.toml):
    every field's "(default ...)" is that configuration's, not the paper's (was: --pes 64,
    --clock-mhz 800 while the command ran 4 PEs at 125 MHz)."""
    ref = EIEConfig.from_file(REPO / "models" / "ecp5_4pe.toml")
    text = help_text(capsys, cmd)
    for f in dataclasses.fields(EIEConfig):
        flag = "--" + f.name.replace("_", "-")
        m = re.search(re.escape(flag) + r" (?:INT|FLOAT) [^(]*(?:\([^)]*\)[^(]*)*?\(default ([^)]+)\)", text)
        assert m, (flag, text[:400])
        assert float(m.group(1)) == float(getattr(ref, f.name)), (flag, m.group(1))
    assert "`eie config` prints them" not in text
    paper = help_text(capsys, "simulate")
    assert "--pes INT processing elements N (row i lives in PE i mod N) (default 64)" in paper


def test_verify_dir_refuses_a_host_function_between_layers(tmp_path, capsys):
    """softmax after the last layer runs on the host (tests/test_networks_run.py verifies such a
    network on Verilator); between two layers the on-chip chain cannot apply it: exit 2, one
    line naming the layer, before any simulator work."""
    from eie.compress import compress_layer
    from eie.layer import DenseLayer, save_layer
    from eie.network import Network, NetworkLayer, network_toml
    rng = np.random.default_rng(0)
    specs = []
    for i, (n_out, n_in, f) in enumerate([(8, 12, "sigmoid"), (4, 8, "none")]):
        layer, _ = compress_layer(DenseLayer(rng.normal(size=(n_out, n_in)), name=f"fc{i}"), density=0.5, bits=4)
        save_layer(tmp_path / f"fc{i}.npz", layer)
        specs.append(NetworkLayer(f"fc{i}", f"fc{i}.npz", "fc", (n_out, n_in), f))
    (tmp_path / "network.toml").write_text(network_toml(Network("n", tuple(specs))))
    np.save(tmp_path / "x.npy", rng.normal(size=12))
    code = main(["verify", str(tmp_path), "--input", str(tmp_path / "x.npy"), "--json", str(tmp_path / "v.json")])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "layer 'fc0' is followed by sigmoid" in err
    assert "a host function after the last layer is fine" in err and not (tmp_path / "v.json").exists()
