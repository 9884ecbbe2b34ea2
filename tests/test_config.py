"""EIEConfig checks itself; each error message is pinned."""

import pytest

from eie.config import EIEConfig
from eie.errors import ConfigError


def test_defaults_are_the_paper_design_point():
    c = EIEConfig()
    assert (c.pes, c.clock_mhz, c.queue_depth, c.line_bits, c.entries_per_line) == (64, 800.0, 8, 64, 8)
    assert c.spmat_capacity == 128 * 1024            # 128 KB of 8-bit entries
    assert c.ptr_capacity == 16 * 1024               # 32 KB of 16-bit pointers
    assert c.rows_per_pass == 4096
    assert c.lnzd_nodes == 21                        # 16 + 4 + 1 for 64 PEs, fan-in 4 (EIE Sec IV)
    assert c.act_sram_entries == 1024


@pytest.mark.parametrize("kw,msg", [
    ({"pes": 0}, "pes must be an integer in [1, 4096], not 0"),
    ({"pes": 2.5}, "pes must be an integer in [1, 4096], not 2.5"),
    ({"queue_depth": 0}, "queue_depth must be an integer in [1, 4096], not 0"),
    ({"line_bits": 60}, "line_bits must be a multiple of the entry width weight_bits+index_bits=8, not 60"),
    ({"clock_mhz": -1}, "clock_mhz must be a finite number > 0, not -1"),
    ({"acc_bits": 8}, "acc_bits must be an integer in [16, 48] (at least act_bits), not 8"),
])
def test_bad_fields(kw, msg):
    with pytest.raises(ConfigError) as e:
        EIEConfig(**kw)
    assert str(e.value) == msg


def test_from_file_unknown_key(tmp_path):
    p = tmp_path / "c.toml"
    p.write_text("pes = 8\nqueue_dept = 4\n")
    with pytest.raises(ConfigError, match="unknown configuration key 'queue_dept'"):
        EIEConfig.from_file(p)
    p.write_text("[eie]\npes = 8\nqueue_depth = 4\n")
    assert EIEConfig.from_file(p) == EIEConfig(pes=8, queue_depth=4)
    p.write_text("pes = [")
    with pytest.raises(ConfigError, match="is not valid toml"):
        EIEConfig.from_file(p)


def test_from_file_names_the_table_next_to_eie(tmp_path):
    """A table or key next to [eie] is named itself (it was reported as an unknown key 'eie')."""
    p = tmp_path / "c.toml"
    p.write_text("[eie]\npes = 8\n\n[other]\nx = 1\n")
    with pytest.raises(ConfigError, match=r"unknown key or table 'other' next to \[eie\]") as e:
        EIEConfig.from_file(p)
    assert "'eie'" not in str(e.value)
    p.write_text("queue_depth = 4\n[eie]\npes = 8\n")
    with pytest.raises(ConfigError, match=r"configuration key 'queue_depth' next to \[eie\]: .* either all under"):
        EIEConfig.from_file(p)


def test_from_file_not_utf8(tmp_path):
    p = tmp_path / "bad.toml"
    p.write_bytes(b"\xff\xfe")
    with pytest.raises(ConfigError, match=r"config file '.*bad.toml' is not UTF-8 text \(byte 0xff at offset 0\)"):
        EIEConfig.from_file(p)


def test_replace_checks():
    with pytest.raises(ConfigError, match="unknown configuration key 'bogus'"):
        EIEConfig().replace(bogus=1)
    with pytest.raises(ConfigError, match="pes must be"):
        EIEConfig().replace(pes=-3)
