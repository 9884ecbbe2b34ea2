"""Defects a new user's walk through README and docs found (second round): help texts that
named the wrong defaults, options that meant different things in different commands, and
messages that pointed at flags that do not exist."""

import dataclasses
import re

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
