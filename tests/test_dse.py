"""eie dse: spec checks, keys, records against direct runs, resume, failures, exports, the
Dask cluster against the local pool, and the answers (Pareto, limits, sensitivity) against
hand-computed sets."""

import csv
import json
import math
import os
import sqlite3

import numpy as np
import pytest
from conftest import REPO

from eie.compress import synthetic_layer
from eie.config import EIEConfig
from eie.dse import Store, best_under, collect, front, joined, load_spec, make_points, pareto_mask, run_sweep
from eie.dse.analysis import Design, fitting_front, sensitivity
from eie.dse.evaluate import IMAGE_FIELDS, VALUE_FIELDS, make_tasks
from eie.dse.run import Interrupted
from eie.dse.spec import axis_values
from eie.errors import InputError
from eie.layer import load_layer, save_npz
from eie.model import RETIME_FIELDS
from eie.network import Network, NetworkLayer, network_toml


def layer_file(path, n_out=48, n_in=64, density=0.3, seed=1, act_density=0.5):
    lay = synthetic_layer(n_out, n_in, density, seed=seed, act_density=act_density)
    save_npz(path, {"codebook": lay.codebook, "codes": lay.codes, "bias_codes": lay.bias_codes,
                    "activations": lay.activations})
    return path


def spec_file(tmp_path, axes, layers, extra="", name="s.toml"):
    text = "[axes]\n" + "".join(f"{k} = {v}\n" for k, v in axes.items())
    text += f"[workloads]\nlayers = {json.dumps(layers)}\n" + extra
    p = tmp_path / name
    p.write_text(text)
    return p


def stored(db):
    with sqlite3.connect(db) as c:
        return {k: (s, json.loads(r) if r else None, e)
                for k, s, r, e in c.execute("SELECT key, status, record, error FROM points")}


# ---- the spec ------------------------------------------------------------------------------

def test_axis_ranges_and_lists():
    assert axis_values("pes", {"start": 16, "stop": 64, "step": "x2"}, "w") == (16, 32, 64)
    assert axis_values("pes", {"start": 16, "stop": 100, "step": "x2"}, "w") == (16, 32, 64)
    assert axis_values("clock_mhz", {"start": 400, "stop": 800, "step": 200}, "w") == (400, 600, 800)
    assert axis_values("spmat_kb", {"start": 0.5, "stop": 2, "step": 0.5}, "w") == (0.5, 1.0, 1.5, 2.0)
    assert axis_values("queue_depth", [8, 4, 16], "w") == (8, 4, 16)


@pytest.mark.parametrize("axes, message", [
    ({"pes": "[]"}, r"axes.pes must list at least one value, not \[\]"),
    ({"pes": "[4, 4]"}, "axes.pes lists 4 twice"),
    ({"pes": "{start = 4, stop = 16, step = \"y2\"}"}, r"step must be a number > 0 or \"xK\" with K > 1"),
    ({"pes": "{start = 4, stop = 16}"}, "missing 'step'"),
    ({"pes": "{start = 16, stop = 4, step = 2}"}, "start and stop must be numbers with start <= stop"),
    ({"pes": "[0, 4]"}, r"axes.pes = 0: pes must be an integer in \[1, 4096\], not 0; fix the axis"),
    ({"pe": "[4]"}, "axes.pe is not a configuration field; axes are target and the EIEConfig fields"),
    ({"target": '["ecp5-25k"]'}, r"'ecp5-25k' is not a target: add \[fpga\] records = DIR"),
    ({"pes": "'many'"}, "axes.pes must be a list of values or a range table"),
])
def test_axis_errors(tmp_path, axes, message):
    layer_file(tmp_path / "l.npz")
    with pytest.raises(InputError, match=message):
        load_spec(spec_file(tmp_path, axes, ["l.npz"]))


@pytest.mark.parametrize("text, message", [
    ("[axes]\npes = [4]\n", r"needs \[workloads\] layers"),
    ("[workloads]\nlayers = ['l.npz']\n", r"needs \[axes\] with at least one axis"),
    ("[axes]\npes = [4]\n[workloads]\nlayers = ['Alex-9']\n",
     r"workloads.layers\[0\]: 'Alex-9' is neither a benchmark layer \(Alex-6, .*\) nor a layer file"),
    ("[axes]\npes = [4]\n[workloads]\nlayers = ['l.npz', 'l.npz']\n", "names 'l' twice"),
    ("[axes]\npes = [4]\n[workloads]\nlayers = ['l.npz']\n[sweep]\nx = 1\n", r"unknown table \[sweep\]"),
    ("[dse]\nobjectiv = 'edp'\n[axes]\npes = [4]\n[workloads]\nlayers = ['l.npz']\n", "dse.objectiv is not"),
    ("[dse]\nobjective = 'speed'\n[axes]\npes = [4]\n[workloads]\nlayers = ['l.npz']\n",
     "dse.objective must be one of edp, energy, latency, area, power, not 'speed'"),
    ("[dse]\nbase = 'nope.toml'\n[axes]\npes = [4]\n[workloads]\nlayers = ['l.npz']\n",
     "dse.base: config file .*nope.toml' cannot be read"),
    ("[axes]\npes = [4]\n[workloads]\nlayers = ['noact.npz']\n", "has no 'activations' array"),
    ("[axes]\npes = [4]\n[workloads]\nlayers = 'l.npz'\n", "workloads.layers must be a non-empty list"),
    ("[axes\n", "is not valid TOML"),
])
def test_spec_errors(tmp_path, text, message):
    layer_file(tmp_path / "l.npz")
    lay = synthetic_layer(8, 8, 0.5, seed=1)
    save_npz(tmp_path / "noact.npz", {"codebook": lay.codebook, "codes": lay.codes})
    (tmp_path / "s.toml").write_text(text)
    with pytest.raises(InputError, match=message):
        load_spec(tmp_path / "s.toml")


def test_points_and_keys(tmp_path, monkeypatch):
    layer_file(tmp_path / "l.npz")
    spec = load_spec(spec_file(tmp_path, {"pes": "[2, 4]", "queue_depth": "[4, 8]"}, ["l.npz", "NT-We"]))
    pts = make_points(spec)
    assert spec.n_designs == 4 and len(pts) == 8 == len({p.key for p in pts})
    assert [p.workload.name for p in pts] == ["l"] * 4 + ["NT-We"] * 4
    assert [dict(p.axes) for p in pts[:4]] == [{"pes": 2, "queue_depth": 4}, {"pes": 2, "queue_depth": 8},
                                               {"pes": 4, "queue_depth": 4}, {"pes": 4, "queue_depth": 8}]
    assert make_points(load_spec(spec.path))[0].key == pts[0].key          # deterministic
    # the key follows the workload's content, the energy table and the eie version
    layer_file(tmp_path / "l.npz", seed=2)
    assert make_points(load_spec(spec.path))[0].key != pts[0].key
    steady = spec_file(tmp_path, {"pes": "[2, 4]", "queue_depth": "[4, 8]"}, ["l.npz", "NT-We"],
                       "[dse]\nenergy_table = 'steady'\n")
    assert make_points(load_spec(steady))[4].key != pts[4].key
    import eie
    monkeypatch.setattr(eie, "__version__", "9.9.9")
    assert make_points(load_spec(spec.path))[4].key != pts[4].key
    # a task: one workload and one image; image, value and retime fields partition EIEConfig
    tasks = make_tasks(spec, pts)
    assert sorted(len(t.points) for t in tasks) == [2, 2, 2, 2]
    # one image, 40 points: cut into tasks of at most 32
    many = load_spec(spec_file(tmp_path, {"queue_depth": "{start = 1, stop = 40, step = 1}"}, ["l.npz"], name="m.toml"))
    assert sorted(len(t.points) for t in make_tasks(many, make_points(many))) == [8, 32]
    fields = {f for f in EIEConfig().to_dict()}
    assert set(IMAGE_FIELDS) | set(VALUE_FIELDS) | set(RETIME_FIELDS) == fields
    assert len(IMAGE_FIELDS) + len(VALUE_FIELDS) + len(RETIME_FIELDS) == len(fields)


# ---- records against direct runs -------------------------------------------------------------

def test_fc8_points_equal_direct_runs(tmp_path, fc8_path):
    from eie.area import estimate_area
    from eie.pipeline import run_layer
    spec = load_spec(spec_file(tmp_path, {"queue_depth": "[8, 7]", "clock_mhz": "[800.0, 400.0]"}, [str(fc8_path)]))
    with Store(tmp_path / "r.db") as store:
        pts = make_points(spec)
        counts = run_sweep(spec, store, pts, workers=0, progress=False)
        rows = [r for _, r in joined(store, pts)]
    assert (counts.computed, counts.reused, counts.failed) == (4, 0, 0)
    recs = [r["record"] for r in rows]
    assert [r["cycles"] for r in recs] == [7896, 7896, 7926, 7926]        # the authors' 7,926 at our depth 7
    direct, _ = run_layer(load_layer(fc8_path), EIEConfig(), check_capacity=False)
    r = recs[0]
    assert r["energy_pj"] == pytest.approx(direct["energy_pj"]["total_pj"], rel=1e-12)
    assert r["power_mw"] == pytest.approx(586.11, abs=0.01)                  # the fc8 calibration
    assert r["time_us"] == pytest.approx(7896 / 800)
    assert r["edp"] == pytest.approx(r["energy_pj"] * r["time_us"])
    assert r["area_mm2"] == pytest.approx(estimate_area(EIEConfig()).chip_mm2) and round(r["area_mm2"], 1) == 40.8
    assert r["load_efficiency"] == pytest.approx(453748 / (7896 * 64))
    assert r["fits"] and r["fit_problems"] == [] and r["outputs_match_reference"] is None
    # half the clock: same energy, twice the time, half the power
    assert recs[1]["energy_pj"] == pytest.approx(r["energy_pj"]) and recs[1]["time_us"] == pytest.approx(2 * r["time_us"])


def test_dense_file_and_network_directory(tmp_path):
    rng = np.random.default_rng(3)
    w = rng.normal(size=(24, 40)) * (rng.random((24, 40)) < 0.4)
    save_npz(tmp_path / "dense.npz", {"weight": w, "activations": np.maximum(rng.normal(size=40), 0)})
    net = tmp_path / "net"
    net.mkdir()
    layer_file(net / "a.npz", 32, 40, seed=4)
    lay_b = synthetic_layer(16, 32, 0.4, seed=5)
    save_npz(net / "b.npz", {"codebook": lay_b.codebook, "codes": lay_b.codes})   # no input: a's output
    (net / "network.toml").write_text(network_toml(Network("tiny", (
        NetworkLayer("a", "a.npz", "fc", (32, 40), "relu"), NetworkLayer("b", "b.npz", "fc", (16, 32), "none")))))
    spec = load_spec(spec_file(tmp_path, {"pes": "[4]"}, ["dense.npz", "net"]))
    assert [w.kind for w in spec.workloads] == ["layer", "network"]
    with Store(tmp_path / "r.db") as store:
        pts = make_points(spec)
        run_sweep(spec, store, pts, workers=0, progress=False)
        dense, netrec = (r["record"] for _, r in joined(store, pts))
    assert dense["fits"] and len(dense["layers"]) == 1
    assert [x["name"] for x in netrec["layers"]] == ["tiny/a", "tiny/b"]
    assert netrec["cycles"] == sum(x["cycles"] for x in netrec["layers"])
    # b runs on a's fixed-point outputs, as `eie simulate DIR` runs the network [arch §8]
    from eie import cli
    js = tmp_path / "sim.json"
    assert cli.main(["simulate", str(net), "--pes", "4", "--json", str(js)]) == 0
    sim = json.loads(js.read_text())
    assert [x["cycles"] for x in netrec["layers"]] == [x["cycles"] for x in sim["layers"]]
    assert netrec["energy_pj"] == pytest.approx(sim["energy_pj"], rel=1e-12)


def test_a_network_point_is_what_the_array_runs_not_a_float_handoff(tmp_path):
    """Layer a: row 0 = 1 x 1000, rows 1-19 = 0.02 x 1 (ReLU).  Its outputs need fo = 4
    (1000 x 2^4 <= 2^14 - 1), so 0.02 rounds to 0 on the array and layer b gets ONE non-zero
    input, not the 20 non-zeros of the float result.  The sweep's point for b equals b run
    on that single non-zero input (worked by hand), for every PE count swept."""
    from eie.model import simulate
    net = tmp_path / "net"
    net.mkdir()
    wa = np.zeros((20, 2))
    wa[0, 0], wa[1:, 1] = 1.0, 0.02
    save_npz(net / "a.npz", {"weight": wa, "activations": np.array([1000.0, 1.0])})
    wb = np.random.default_rng(7).normal(size=(3, 20))
    save_npz(net / "b.npz", {"weight": wb})
    (net / "network.toml").write_text(network_toml(Network("t", (
        NetworkLayer("a", "a.npz", "fc", (20, 2), "relu"), NetworkLayer("b", "b.npz", "fc", (3, 20), "none")))))
    spec = load_spec(spec_file(tmp_path, {"pes": "[2, 4]"}, ["net"]))
    with Store(tmp_path / "r.db") as store:
        pts = make_points(spec)
        run_sweep(spec, store, pts, workers=0, progress=False)
        recs = [r["record"] for _, r in joined(store, pts)]
    from eie.prepare import load_compressed
    b = load_compressed(net / "b.npz", bits=4)
    one = np.zeros(20)
    one[0] = 1000.0
    for rec in recs:
        cfg = EIEConfig(**rec["config"])
        assert rec["layers"][1]["cycles"] == simulate(b, one, config=cfg, check_reference=False).cycles
        many = simulate(b, np.maximum(wa @ [1000.0, 1.0], 0), config=cfg, check_reference=False).cycles
        assert rec["layers"][1]["cycles"] < many


def test_network_without_first_input_is_refused(tmp_path):
    net = tmp_path / "net"
    net.mkdir()
    lay = synthetic_layer(8, 8, 0.5, seed=1)
    save_npz(net / "a.npz", {"codebook": lay.codebook, "codes": lay.codes})
    (net / "network.toml").write_text(network_toml(Network("n", (NetworkLayer("a", "a.npz", "fc", (8, 8)),))))
    with pytest.raises(InputError, match=r"layer 'a' needs an 'activations' array in a.npz \(the first layer"):
        load_spec(spec_file(tmp_path, {"pes": "[4]"}, ["net"]))


# ---- results that last ------------------------------------------------------------------------

def test_failing_points_are_stored_and_the_sweep_goes_on(tmp_path):
    layer_file(tmp_path / "l.npz")                      # a 16-entry codebook
    # weight_bits 2: 2 + 4 = 6-bit entries fill 48-bit lines but not 64-bit ones (an invalid
    # configuration); with 48-bit lines valid, but the layer's codebook does not fit 2 bits
    spec = load_spec(spec_file(tmp_path, {"weight_bits": "[4, 2]", "line_bits": "[64, 48]"}, ["l.npz"]))
    with Store(tmp_path / "r.db") as store:
        pts = make_points(spec)
        counts = run_sweep(spec, store, pts, workers=0, progress=False)
        rows = [r for _, r in joined(store, pts)]
    assert (counts.computed, counts.failed) == (4, 2)
    assert [r["status"] for r in rows] == ["ok", "ok", "error", "error"]
    assert "line_bits must be a multiple of the entry width weight_bits+index_bits=6, not 64" in rows[2]["error"]
    assert "codebook must have at most 2**weight_bits = 4 entries, not 16" in rows[3]["error"]
    with Store(tmp_path / "r.db") as store:               # failed points are kept, unless retried
        assert run_sweep(spec, store, pts, workers=0, progress=False).reused == 4
        again = run_sweep(spec, store, pts, workers=0, progress=False, retry_failed=True)
        assert (again.computed, again.reused, again.failed) == (2, 2, 2)
    # a value no combination makes valid is a spec error
    with pytest.raises(InputError, match=r"axes.weight_bits = 3: line_bits must be a multiple of the entry"):
        load_spec(spec_file(tmp_path, {"weight_bits": "[4, 3]", "line_bits": "[64, 48]"}, ["l.npz"]))


def test_resumed_sweep_equals_an_uninterrupted_one(tmp_path, monkeypatch):
    import eie.dse.run as run
    layer_file(tmp_path / "l.npz")
    spec = load_spec(spec_file(tmp_path, {"pes": "[2, 4, 8]", "queue_depth": "[2, 8]"}, ["l.npz", "NT-We"]))
    pts = make_points(spec)
    with Store(tmp_path / "whole.db") as store:
        whole = run_sweep(spec, store, pts, workers=0, progress=False)
    assert (whole.computed, whole.reused) == (12, 0)
    real, calls = run.run_task, []

    def interrupting(task):
        calls.append(task)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real(task)
    monkeypatch.setattr(run, "run_task", interrupting)
    with Store(tmp_path / "part.db") as store, pytest.raises(Interrupted) as info:
        run_sweep(spec, store, pts, workers=0, progress=False)
    assert info.value.counts.computed == 4 and len(stored(tmp_path / "part.db")) == 4
    monkeypatch.setattr(run, "run_task", real)
    with Store(tmp_path / "part.db") as store:
        resumed = run_sweep(spec, store, pts, workers=0, progress=False)
        assert (resumed.computed, resumed.reused) == (8, 4)
        assert run_sweep(spec, store, pts, workers=0, progress=False).computed == 0   # nothing recomputed
    a, b = stored(tmp_path / "whole.db"), stored(tmp_path / "part.db")
    for d in (a, b):
        for _, rec, _ in d.values():
            rec.pop("wall_s", None)
    assert a == b


def test_local_pool_and_dask_cluster_equal_in_process(tmp_path):
    pytest.importorskip("distributed")
    from distributed import LocalCluster
    layer_file(tmp_path / "l.npz")
    spec = load_spec(spec_file(tmp_path, {"pes": "[2, 4]", "queue_depth": "[2, 8]"}, ["l.npz"]))
    pts = make_points(spec)
    with Store(tmp_path / "serial.db") as store:
        run_sweep(spec, store, pts, workers=0, progress=False)
    with Store(tmp_path / "pool.db") as store:
        assert run_sweep(spec, store, pts, workers=2, progress=False).computed == 4
    with LocalCluster(n_workers=1, threads_per_worker=2, processes=False, protocol="tcp://", host="127.0.0.1",
                      dashboard_address=None) as cluster, Store(tmp_path / "dask.db") as store:
        assert run_sweep(spec, store, pts, scheduler=cluster.scheduler_address, progress=False).computed == 4
    serial = stored(tmp_path / "serial.db")
    assert set(serial) == {p.key for p in pts}
    for db in ("pool.db", "dask.db"):
        other = stored(tmp_path / db)
        assert set(other) == set(serial)
        for k, (status, rec, _) in other.items():
            assert status == serial[k][0] == "ok"
            assert {x: v for x, v in rec.items()} == serial[k][1], db


# ---- answers against hand-computed sets -------------------------------------------------------

def test_pareto_mask_by_hand():
    pts = [(1, 9, 1), (2, 2, 2), (3, 3, 3), (2, 2, 2), (9, 1, 1), (1, 9, 2), (5, 5, 0)]
    # (3,3,3) is dominated by (2,2,2); (1,9,2) by (1,9,1); both copies of (2,2,2) stay
    assert pareto_mask(pts).tolist() == [True, True, False, True, True, False, True]
    assert pareto_mask([(1.0, 1.0)]).tolist() == [True]
    rng = np.random.default_rng(0)
    v = rng.random((600, 3))
    brute = [not any(all(v[j] <= v[i]) and any(v[j] < v[i]) for j in range(600)) for i in range(600)]
    assert pareto_mask(v).tolist() == brute


def design(label, energy, time, area, fits=True, **axes):
    d = Design(label, "asic", axes or {"x": label}, {}, area)
    d.workloads["w"] = {"energy_pj": energy, "time_us": time, "power_mw": energy / time * 1e-3, "fits": fits}
    return d


def test_front_best_and_sensitivity_by_hand():
    ds = [design("a", 10, 10, 1), design("b", 5, 20, 1), design("c", 20, 5, 4), design("d", 12, 12, 2),
          design("e", 1, 1, 1, fits=False)]
    assert [d.label for d in front(ds)] == ["b", "a", "c"]           # d is dominated by a; e does not fit
    assert [d.label for d in front(ds, require_fit=False)] == ["e"]
    assert fitting_front([design("e", 1, 1, 1, fits=False)])[1] is False
    # EDP: a 100, b 100, c 100, d 144; of the equals a and b have the smaller chip, b the less energy
    assert best_under(ds, "edp")[0].label == "b"
    assert best_under(ds, "edp", max_area=1)[1] == 2                  # a and b
    assert best_under(ds, "energy", max_latency=15)[0].label == "a"   # b is too slow
    assert best_under(ds, "latency", max_power=0.002)[0].label == "a"  # c draws 0.004 mW, a 0.001
    assert best_under(ds, "edp", max_area=0.5) == (None, 0)
    # two axes: p scales the time by 1, 2, 4; q leaves everything alone
    grid = [design(f"p{p}q{q}", 10, 8 / p, p, p=p, q=q) for p in (1, 2, 4) for q in (0, 1)]
    rows = {r["axis"]: r for r in sensitivity(grid, ["p", "q"])}
    assert rows["p"]["latency"] == pytest.approx(4.0) and rows["p"]["latency_dir"] == -1
    assert rows["p"]["area"] == pytest.approx(4.0) and rows["p"]["area_dir"] == 1
    assert rows["q"]["latency"] == pytest.approx(1.0) and rows["q"]["latency_dir"] == 0
    assert rows["p"]["energy"] == pytest.approx(1.0)


def test_collect_marks_incomplete_designs(tmp_path):
    layer_file(tmp_path / "l.npz")
    spec = load_spec(spec_file(tmp_path, {"weight_bits": "[4, 2]", "line_bits": "[64, 48]"}, ["l.npz"]))
    with Store(tmp_path / "r.db") as store:
        pts = make_points(spec)
        run_sweep(spec, store, pts, workers=0, progress=False)
        ds = collect(joined(store, pts))
    assert [d.complete for d in ds] == [True, True, False, False]
    assert "ConfigError" in ds[2].errors["l"] and "InputError: " in ds[3].errors["l"]


# ---- the command -------------------------------------------------------------------------------

def test_cli_sweep_exports_and_report(tmp_path, capsys):
    from eie.cli import main
    layer_file(tmp_path / "l.npz")
    s = spec_file(tmp_path, {"pes": "[2, 4]", "weight_bits": "[4, 2]", "line_bits": "[64, 48]"}, ["l.npz", "NT-We"])
    db, js, cs, rep = tmp_path / "r.db", tmp_path / "o.json", tmp_path / "o.csv", tmp_path / "rep"
    args = ["dse", str(s), "--db", str(db), "--json", str(js), "--csv", str(cs), "--report", str(rep),
            "--workers", "0", "--max-area", "5"]
    assert main(args) == 0
    out = capsys.readouterr().out
    # failed: weight_bits 2 with 64-bit lines (2 designs x 2 workloads), and l.npz's 16 codes in 2 bits (2)
    assert "16 points: 16 computed (6 failed), 0 reused" in out and "best (lowest edp, area <= 5 mm²" in out
    doc = json.loads(js.read_text())
    assert (doc["computed"], doc["reused"], doc["failed"]) == (16, 0, 6)
    assert len(doc["points"]) == 16
    ok = [p for p in doc["points"] if p["status"] == "ok"]
    for key in ("workload", "config", "cycles", "time_us", "energy_pj", "power_mw", "area_mm2", "edp", "fits"):
        assert all(key in p for p in ok), key
    assert all("error" in p for p in doc["points"] if p["status"] == "error")
    assert doc["best"]["area_mm2"] <= 5 and doc["pareto"]
    rows = list(csv.DictReader(cs.read_text().splitlines()))
    assert len(rows) == 16 and rows[0]["pes"] == "2" and rows[0]["line_bits"] == "64"
    assert {"report.md", "report.html", "energy_latency.png"} <= {p.name for p in rep.iterdir()}
    assert "Pareto front" in (rep / "report.md").read_text()
    # again: every point reused, nothing recomputed; existing outputs need --force
    assert main(args + ["--force"]) == 0
    assert "0 computed (0 failed), 16 reused" in capsys.readouterr().out
    assert json.loads(js.read_text())["reused"] == 16
    assert main(args) == 2
    assert capsys.readouterr().err.startswith("eie: error: JSON file")


def test_cli_report_directory_refusals_name_report_and_write_nothing(tmp_path, capsys, monkeypatch):
    """``--report DIR``: the messages name --report (not --out); with --force a symbolic
    link in place of report.md, or a directory in place of a figure (known once the sweep
    is done), is refused before any output (--json, --csv, the report) is written."""
    from eie.cli import main
    monkeypatch.chdir(tmp_path)
    layer_file(tmp_path / "l.npz")
    s = spec_file(tmp_path, {"pes": "[2, 4]"}, ["l.npz"])
    rep = tmp_path / "rep"
    rep.mkdir()
    (rep / "mine.txt").write_text("mine\n")
    assert main(["dse", str(s), "--report", str(rep), "--workers", "0"]) == 2
    assert capsys.readouterr().err == (f"eie: error: --report {str(rep)!r} exists and is not empty: use --force to "
                                       f"overwrite the report in it\n")
    target = tmp_path / "target.txt"
    target.write_text("precious\n")
    (rep / "report.md").symlink_to(target)
    args = ["dse", str(s), "--report", str(rep), "--workers", "0", "--json", "o.json", "--csv", "o.csv", "--force"]
    assert main(args) == 2
    assert capsys.readouterr().err == f"eie: error: {str(rep / 'report.md')!r} is a symbolic link: eie only " \
                                      f"replaces regular files\n"
    (rep / "report.md").unlink()
    (rep / "energy_latency.png").mkdir()
    assert main(args) == 2
    assert capsys.readouterr().err.splitlines()[-1] == (f"eie: error: {str(rep / 'energy_latency.png')!r} is a "
                                                        f"directory: eie only replaces regular files")
    assert sorted(p.name for p in rep.iterdir()) == ["energy_latency.png", "mine.txt"]
    assert not (tmp_path / "o.json").exists() and not (tmp_path / "o.csv").exists()
    assert target.read_text() == "precious\n"
    (rep / "energy_latency.png").rmdir()
    assert main(args) == 0                                       # the same command, nothing in the way
    assert {"report.md", "energy_latency.png", "mine.txt"} <= {p.name for p in rep.iterdir()}
    assert (tmp_path / "o.json").is_file() and (rep / "energy_latency.png").is_file()


@pytest.mark.parametrize("extra, message", [
    (["--workers", "-1"], "--workers must be an integer >= 0"),
    (["--max-area", "-3"], "--max-area must be a number > 0, not -3.0"),
    (["--max-power", "nan"], "--max-power must be a number > 0, not nan"),
    (["--scheduler", "localhost:8786"], "--scheduler must be a Dask scheduler address tcp://HOST:PORT"),
    (["--csv", "nodir/o.csv"], "directory 'nodir' does not exist"),
])
def test_cli_bad_input_writes_nothing(tmp_path, capsys, monkeypatch, extra, message):
    from eie.cli import main
    monkeypatch.chdir(tmp_path)
    layer_file(tmp_path / "l.npz")
    s = spec_file(tmp_path, {"pes": "[2]"}, ["l.npz"])
    before = set(tmp_path.iterdir())
    assert main(["dse", str(s), *extra]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("eie: error: ") and message in err
    assert set(tmp_path.iterdir()) == before                     # no database, no output


def test_cli_bad_spec_names_the_field(tmp_path, capsys, monkeypatch):
    from eie.cli import main
    monkeypatch.chdir(tmp_path)
    layer_file(tmp_path / "l.npz")
    s = spec_file(tmp_path, {"queue_depth": "[0]"}, ["l.npz"])
    assert main(["dse", str(s)]) == 2
    err = capsys.readouterr().err
    assert "axes.queue_depth = 0: queue_depth must be an integer in [1, 4096], not 0; fix the axis" in err
    assert not (tmp_path / "s.db").exists()


def test_store_refuses_another_programs_database(tmp_path):
    """A SQLite database with tables but no eie schema is refused and left as it was (eie
    used to add its tables to it); a new file, an empty database and eie's own are opened."""
    def tables(db):
        with sqlite3.connect(db) as c:
            return sorted(n for (n,) in c.execute("SELECT name FROM sqlite_master WHERE type = 'table'"))
    other = tmp_path / "other.db"
    with sqlite3.connect(other) as c:
        c.execute("CREATE TABLE users (id INTEGER)")
    with pytest.raises(InputError, match=r"--db '.*other.db' is a SQLite database but not an eie sweep database "
                                         r"\(its tables: users; no eie schema\)"):
        Store(other)
    meta = tmp_path / "meta.db"                 # a 'meta' table of its own, without eie's schema row
    with sqlite3.connect(meta) as c:
        c.execute("CREATE TABLE meta (name TEXT PRIMARY KEY, value TEXT NOT NULL)")
        c.execute("CREATE TABLE users (id INTEGER)")
    with pytest.raises(InputError, match="not an eie sweep database"):
        Store(meta)
    points = tmp_path / "points.db"             # a table named like eie's, with other columns
    with sqlite3.connect(points) as c:
        c.execute("CREATE TABLE points (x REAL, y REAL)")
    with pytest.raises(InputError, match=r"not an eie sweep database \(its tables: points; no eie schema\)"):
        Store(points)
    assert tables(other) == ["users"] and tables(meta) == ["meta", "users"] and tables(points) == ["points"]
    half = tmp_path / "half.db"                 # eie's tables without the schema row (a crash between): opened
    with sqlite3.connect(half) as c:
        c.executescript("CREATE TABLE meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);")
    with Store(half) as store:
        assert store.count() == 0
    empty = tmp_path / "empty.db"
    empty.write_bytes(b"")
    for db in (empty, tmp_path / "new.db", tmp_path / "new.db"):     # the second: eie's own database
        with Store(db) as store:
            assert store.count() == 0
        assert tables(db) == ["meta", "points"]


def test_cli_spec_name_must_not_leave_the_directory(tmp_path, capsys, monkeypatch):
    """[dse] name = "../escape" put the default database <name>.db outside the current directory."""
    from eie.cli import main
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    layer_file(work / "l.npz")
    for name in ("../escape", str(tmp_path / "abs"), "a\\b"):
        s = spec_file(work, {"pes": "[2]"}, ["l.npz"], f"[dse]\nname = {json.dumps(name)}\n")
        assert main(["dse", str(s), "--workers", "0"]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and err.startswith("eie: error: ") and "dse.name must be a plain name" in err
        assert f"not {name!r}: give --db FILE" in err, err
    assert not list(tmp_path.glob("*.db")) and not list(work.glob("*.db"))


def test_fpga_target_scales_the_record(tmp_path):
    records = REPO / "reports" / "fpga"
    layer_file(tmp_path / "l.npz")
    axes = {"target": '["asic", "ecp5-25k"]', "pes": "[2]", "spmat_kb": "[32]", "ptr_kb": "[4]"}
    spec = load_spec(spec_file(tmp_path, axes, ["l.npz"], f"[fpga]\nrecords = '{records}'\n"))
    with Store(tmp_path / "r.db") as store:
        pts = make_points(spec)
        run_sweep(spec, store, pts, workers=0, progress=False)
        asic, fpga = (r["record"] for _, r in joined(store, pts))
    assert asic["fpga"] is None and asic["config"]["clock_mhz"] == 800.0
    f = fpga["fpga"]
    rec = json.loads((records / "ecp5-25k.json").read_text())
    fmax = sorted(s["fmax_mhz"] for s in rec["seeds"])[1]            # the median of three seeds
    assert fpga["config"]["clock_mhz"] == f["fmax_mhz"] == fmax
    # the record: 4 PEs, 16 KiB sparse matrix (8 blocks), 4 KiB pointers (1 + 1), 2 KiB activations (1 + 1)
    assert f["brams_per_pe"] == 16 + 1 + 1 + 1 + 1 and f["need"]["brams"] == 40
    assert f["need"]["luts"] == math.ceil(rec["resources"]["luts"]["used"] * 2 / 4)
    assert f["fits_device"] and fpga["time_us"] == pytest.approx(fpga["cycles"] / fmax)
    big = load_spec(spec_file(tmp_path, {"target": '["ecp5-25k"]', "pes": "[8]"}, ["l.npz"],
                              f"[fpga]\nrecords = '{records}'\n", name="big.toml"))
    with Store(tmp_path / "r.db") as store:
        pts = make_points(big)
        run_sweep(big, store, pts, workers=0, progress=False)
        (_, row), = joined(store, pts)
    assert not row["record"]["fits"]
    assert any(p.startswith("device: brams") and "of 56 on LFE5U-25F" in p for p in row["record"]["fit_problems"])


def test_fpga_target_on_ice40_keeps_the_descriptor_fifo_blocks(tmp_path):
    """The iCE40 record's block RAMs include the column-descriptor FIFO (5 EBR per PE), a memory
    no configuration field sizes: a point keeps those blocks (it crashed with KeyError before).
    Worked by hand from the record (1 PE: 1 KiB lines in 4 EBR, 0.5 KiB pointers, 0.5 KiB
    activations, 16-entry codebook 1, destination file 2 copies of 1, descriptor FIFO 5): at
    2 PEs, 2 KiB lines -> 8, 1 KiB pointers -> 2 + 2, activations 1 + 1, codebook 1, dst 2, FIFO 5."""
    records = REPO / "reports" / "fpga"
    layer_file(tmp_path / "l.npz")
    axes = {"target": '["ice40-hx8k"]', "pes": "[2]", "spmat_kb": "[2]", "ptr_kb": "[1]", "act_sram_kb": "[0.5]",
            "regfile_entries": "[16]"}
    spec = load_spec(spec_file(tmp_path, axes, ["l.npz"], f"[fpga]\nrecords = '{records}'\n"))
    with Store(tmp_path / "r.db") as store:
        pts = make_points(spec)
        run_sweep(spec, store, pts, workers=0, progress=False)
        (_, row), = joined(store, pts)
    assert row["status"] == "ok", row
    f = row["record"]["fpga"]
    assert f["brams_per_pe"] == 8 + 4 + 2 + 1 + 2 + 5 and f["need"]["brams"] == 44
    assert not f["fits_device"] and "device: brams 44 of 32 on iCE40HX8K-CT256" in row["record"]["fit_problems"]


def test_workloads_spec_names_layers_of_a_spec_file(tmp_path):
    """[workloads] spec = FILE: benchmark names come from that file (eie bench --spec's layout);
    a name it lacks is refused, naming both."""
    (tmp_path / "mine.toml").write_text('[[layer]]\nname = "Tiny"\nn_in = 64\nn_out = 32\n'
                                        'weight_density = 0.2\nact_density = 0.5\nseed = 4\n')
    s = tmp_path / "s.toml"
    s.write_text('[axes]\npes = [2]\n[workloads]\nspec = "mine.toml"\nlayers = ["Tiny"]\n')
    spec = load_spec(s)
    (w,) = spec.workloads
    assert (w.kind, w.name, w.spec.n_in, w.spec.n_out) == ("bench", "Tiny", 64, 32)
    with Store(tmp_path / "r.db") as store:
        pts = make_points(spec)
        run_sweep(spec, store, pts, workers=0, progress=False)
        (_, row), = joined(store, pts)
    assert row["status"] == "ok" and row["record"]["fits"]
    s.write_text('[axes]\npes = [2]\n[workloads]\nspec = "mine.toml"\nlayers = ["Alex-7"]\n')
    with pytest.raises(InputError, match=r"workloads.layers\[0\]: 'Alex-7' is neither a benchmark layer \(Tiny\)"):
        load_spec(s)
    s.write_text('[axes]\npes = [2]\n[workloads]\nspec = "none.toml"\nlayers = ["Tiny"]\n')
    with pytest.raises(InputError, match=r"workloads.spec: spec file .*none.toml"):
        load_spec(s)


def test_shipped_fpga_example_runs_and_some_design_fits(tmp_path):
    """models/dse/fpga.toml end to end: every point computed (no error on either device's
    record), at least one ECP5 design fits the LeNet-300-100 layers, no iCE40 design does (its
    whole block RAM, 16 KiB, is less than ip1's sparse matrix)."""
    spec = load_spec(REPO / "models" / "dse" / "fpga.toml")
    with Store(tmp_path / "r.db") as store:
        pts = make_points(spec)
        run_sweep(spec, store, pts, workers=0, progress=False)
        rows = [r for _, r in joined(store, pts)]
    assert rows and all(r["status"] == "ok" for r in rows), [r.get("error") for r in rows if r["status"] != "ok"]
    ip1 = [r["record"] for r in rows if r["record"]["workload"] == "LeNet-ip1"]
    assert any(r["fits"] for r in ip1 if r["target"] == "ecp5-25k")
    assert not any(r["fits"] for r in ip1 if r["target"] == "ice40-hx8k")


def test_shipped_example_specs_load():
    ex = load_spec(REPO / "models" / "dse" / "example.toml")
    assert len(ex.axes) >= 2 and len(ex.workloads) >= 2 and ex.n_points == 144
    fp = load_spec(REPO / "models" / "dse" / "fpga.toml")
    assert set(fp.fpga) >= {"ecp5-25k", "ice40-hx8k"} and fp.axes[0].values == ("ecp5-25k", "ice40-hx8k")


def test_cli_json_to_stdout_and_interrupt(tmp_path, capsys, monkeypatch):
    import eie.dse.run as run
    from eie.cli import main
    monkeypatch.chdir(tmp_path)
    layer_file(tmp_path / "l.npz")
    s = spec_file(tmp_path, {"pes": "[2, 4]"}, ["l.npz"])
    assert main(["dse", str(s), "--json", "-", "--workers", "0"]) == 0
    out, err = capsys.readouterr()
    assert json.loads(out)["computed"] == 2 and "eie dse s:" in err          # the summary goes to stderr
    assert (tmp_path / "s.db").is_file()                                       # the default database

    def interrupted(task):
        raise KeyboardInterrupt
    monkeypatch.setattr(run, "run_task", interrupted)
    s2 = spec_file(tmp_path, {"pes": "[8]"}, ["l.npz"], name="s2.toml")
    assert main(["dse", str(s2), "--workers", "0"]) == 130
    assert "interrupted after 0 of 1 points; the database s2.db keeps every finished point" in capsys.readouterr().err


# ---- defects a review found: inputs as outputs, damaged databases, bad workloads ---------

@pytest.mark.parametrize("out_opt", ["--json", "--csv"])
def test_cli_outputs_never_replace_the_sweeps_inputs(tmp_path, capsys, monkeypatch, out_opt):
    """--json/--csv with --force refused when they name a file the sweep reads (the
    workloads' spec file, the base configuration, a layer file), before any work."""
    from eie.cli import main
    monkeypatch.chdir(tmp_path)
    layer_file(tmp_path / "l.npz")
    (tmp_path / "cfg.toml").write_text("pes = 4\n")
    (tmp_path / "specs.toml").write_text((REPO / "models" / "lenet_300_100.toml").read_text())
    s = spec_file(tmp_path, {"pes": "[2, 4]"}, ["l.npz", "LeNet-ip3"],
                  extra='spec = "specs.toml"\n[dse]\nbase = "cfg.toml"\n')
    before = {p: p.read_bytes() for p in (tmp_path / "l.npz", tmp_path / "cfg.toml", tmp_path / "specs.toml")}
    for victim, what in (("specs.toml", "workloads.spec file"), ("cfg.toml", "dse.base file"),
                         ("l.npz", "file 'l.npz' of workload 'l'")):
        assert main(["dse", str(s), "--workers", "0", out_opt, victim, "--force"]) == 2
        assert f"{out_opt} '{victim}' is the {what}: eie never writes over its input" in capsys.readouterr().err
    assert {p: p.read_bytes() for p in before} == before
    assert not (tmp_path / "s.db").exists()                       # refused before the database is made


def test_cli_damaged_database_is_refused_by_name(tmp_path, capsys, monkeypatch):
    from eie.cli import main
    monkeypatch.chdir(tmp_path)
    layer_file(tmp_path / "l.npz")
    s = spec_file(tmp_path, {"pes": "[2, 4, 8]", "queue_depth": "[4, 8]", "spmat_kb": "[8, 32]"}, ["l.npz"])
    assert main(["dse", str(s), "--workers", "0", "--db", "c.db"]) == 0
    capsys.readouterr()
    pages = (tmp_path / "c.db").stat().st_size // 4096
    assert pages >= 5
    with open(tmp_path / "c.db", "r+b") as fh:                    # a page of points, not the first
        fh.seek((pages - 1) * 4096 + 100)
        fh.write(b"\xde\xad\xbe\xef" * 900)
    assert main(["dse", str(s), "--workers", "0", "--db", "c.db"]) == 2
    err = capsys.readouterr().err
    # found when the database is opened (SQLite's check names the tree page), not by a query
    # of the sweep (which had been a traceback)
    assert err.startswith("eie: error: --db 'c.db' is not an eie sweep database, or a damaged one (")
    assert "tree page" in err and len(err.splitlines()) == 1


@pytest.mark.parametrize("arrays, message", [
    ({"weight": np.ones((8, 16), np.float32), "activations": np.ones(5, np.float32)},
     r"workloads.layers\[0\]: activations must have one value per input column \(16\), not 5"),
    ({"weight": np.full((8, 16), np.nan, np.float32), "activations": np.ones(16, np.float32)},
     r"workloads.layers\[0\]: weight must be finite"),
    ({"weight": np.zeros((8, 16), np.float32), "activations": np.ones(16, np.float32)},
     r"workloads.layers\[0\]: layer file .*bad.npz': every weight is 0"),
])
def test_cli_a_workload_every_point_would_fail_on_is_refused_up_front(tmp_path, capsys, monkeypatch, arrays,
                                                                      message):
    """Such a file had been accepted: every point failed and the summary said "no design fits
    its memories"."""
    from eie.cli import main
    monkeypatch.chdir(tmp_path)
    np.savez(tmp_path / "bad.npz", **arrays)
    s = spec_file(tmp_path, {"pes": "[2]"}, ["bad.npz"])
    assert main(["dse", str(s), "--workers", "0"]) == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1
    import re
    assert re.search(message, err), err
    assert not (tmp_path / "s.db").exists()


def test_cli_failed_points_are_said_on_every_run(tmp_path, capsys, monkeypatch):
    from eie.cli import main
    monkeypatch.chdir(tmp_path)
    layer_file(tmp_path / "l.npz")
    s = spec_file(tmp_path, {"act_bits": "[16, 32]", "acc_bits": "[16, 32]"}, ["l.npz"])
    for _ in range(2):                                            # computed, then reused: said both times
        assert main(["dse", str(s), "--workers", "0"]) == 0
        out = capsys.readouterr().out
        assert ("1 of the 4 points failed (stored: --retry-failed evaluates them again; every failure in --report "
                "or --json); the first: l on act_bits=32 acc_bits=16: ConfigError: acc_bits must be") in out


def test_a_number_spelled_as_int_or_float_is_one_point(tmp_path):
    layer_file(tmp_path / "l.npz")
    a = make_points(load_spec(spec_file(tmp_path, {"clock_mhz": "[800]", "spmat_kb": "[128]"}, ["l.npz"])))
    b = make_points(load_spec(spec_file(tmp_path, {"clock_mhz": "[800.0]", "spmat_kb": "[128.0]"}, ["l.npz"],
                                        name="t.toml")))
    c = make_points(load_spec(spec_file(tmp_path, {"clock_mhz": "[801]"}, ["l.npz"], name="u.toml")))
    assert a[0].key == b[0].key != c[0].key


def test_cli_report_links_under_data_refused_before_the_sweep(tmp_path, capsys, monkeypatch):
    from eie.cli import main
    monkeypatch.chdir(tmp_path)
    layer_file(tmp_path / "l.npz")
    s = spec_file(tmp_path, {"pes": "[2, 4]"}, ["l.npz"])
    (tmp_path / "rep" / "data").mkdir(parents=True)
    (tmp_path / "target").write_text("precious\n")
    (tmp_path / "rep" / "data" / "pareto.json").symlink_to(tmp_path / "target")
    assert main(["dse", str(s), "--workers", "0", "--db", "new.db", "--report", "rep", "--force"]) == 2
    assert capsys.readouterr() == ("", "eie: error: 'rep/data/pareto.json' is a symbolic link: eie only replaces "
                                       "regular files\n")
    assert not (tmp_path / "new.db").exists() and (tmp_path / "target").read_text() == "precious\n"


def test_cli_outputs_never_replace_a_network_workloads_files(tmp_path, capsys, monkeypatch):
    """Every file of a network workload is an input (they had shared one label, so only the
    last layer file was protected: --json net/network.toml --force replaced it)."""
    from eie.cli import main
    monkeypatch.chdir(tmp_path)
    net = tmp_path / "net"
    net.mkdir()
    layer_file(net / "a.npz", n_out=16, n_in=24)
    lay = synthetic_layer(8, 16, 0.3, seed=2)
    save_npz(net / "b.npz", {"codebook": lay.codebook, "codes": lay.codes})
    (net / "network.toml").write_text(network_toml(Network("net", (NetworkLayer("a", "a.npz", "fc", (16, 24)),
                                                                   NetworkLayer("b", "b.npz", "fc", (8, 16))))))
    s = spec_file(tmp_path, {"pes": "[2]"}, ["net"])
    for victim in ("net/network.toml", "net/a.npz", "net/b.npz"):
        before = (tmp_path / victim).read_bytes()
        assert main(["dse", str(s), "--workers", "0", "--json", victim, "--force"]) == 2
        assert f"--json '{victim}' is the file '{victim.split('/')[1]}' of workload 'net'" in capsys.readouterr().err
        assert (tmp_path / victim).read_bytes() == before


@pytest.mark.slow
def test_two_ctrl_cs_end_a_local_sweep_promptly(tmp_path):
    """Ctrl-C reaches the whole process group; a second one while the pool waited for its
    running tasks (``timeout -s INT`` sends two) deadlocked the pool's threads at exit and
    ``eie dse`` hung for ever.  Now the workers ignore SIGINT and the parent terminates them:
    exit 130 within seconds, the finished points kept, and a rerun completes the sweep."""
    import contextlib
    import os
    import signal
    import subprocess
    import sys
    import time
    (tmp_path / "s.toml").write_text('[dse]\nname = "s"\n[axes]\npes = [8, 16, 24, 32, 48, 64]\n'
                                     'queue_depth = [2, 4, 8, 16]\nclock_mhz = [500, 800]\n'
                                     '[workloads]\nlayers = ["Alex-7", "NT-We"]\n')
    cmd = [sys.executable, "-m", "eie", "dse", "s.toml", "--workers", "2"]
    db = tmp_path / "s.db"

    def stored() -> int:
        with contextlib.closing(sqlite3.connect(db)) as con:
            return con.execute("select count(*) from points").fetchone()[0]

    with subprocess.Popen(cmd, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                          start_new_session=True) as p:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not (db.exists() and stored()):   # the first task's points
            time.sleep(0.2)
        os.killpg(p.pid, signal.SIGINT)
        time.sleep(0.2)
        os.killpg(p.pid, signal.SIGINT)
        try:
            rc = p.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            pytest.fail("eie dse hung after two Ctrl-Cs")
        err = p.stderr.read().decode()
    assert rc == 130 and "interrupted after" in err and "Traceback" not in err, err
    kept = stored()
    assert 0 < kept < 96
    r = subprocess.run([*cmd, "--json", "out.json"], cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    doc = json.loads((tmp_path / "out.json").read_text())
    assert doc["reused"] == kept and doc["computed"] == 96 - kept


def test_a_tie_in_the_objective_goes_to_a_design_no_other_dominates():
    """best_under broke ties by the label as text ("128" < "64"): the chosen design had the
    same EDP as another on the front and a larger chip."""
    big = design("pes=64 regfile_entries=128", 10, 10, 2.0)
    small = design("pes=64 regfile_entries=64", 10, 10, 1.0)
    assert best_under([big, small], "edp")[0] is small
    assert best_under([small, big], "edp")[0] is small
    assert front([big, small]) == [small]


def test_each_workload_front_takes_the_designs_that_fit_that_workload():
    """A design too small for another workload was left off this workload's front, where it
    beats every design that fits everything."""
    tiny = Design("tiny", "asic", {"x": 1}, {}, 0.5)
    tiny.workloads["w1"] = {"energy_pj": 1, "time_us": 1, "power_mw": 1e-3, "fits": True}
    tiny.workloads["w2"] = {"energy_pj": 1, "time_us": 1, "power_mw": 1e-3, "fits": False}
    big = Design("big", "asic", {"x": 2}, {}, 40.0)
    for w in ("w1", "w2"):
        big.workloads[w] = {"energy_pj": 30, "time_us": 2, "power_mw": 15e-3, "fits": True}
    assert [d.label for d in fitting_front([tiny, big], workload="w1")[0]] == ["tiny"]
    assert [d.label for d in fitting_front([tiny, big], workload="w2")[0]] == ["big"]
    assert [d.label for d in fitting_front([tiny, big])[0]] == ["big"]          # over both: fits both


def test_designs_are_told_apart_by_their_exact_axis_values(tmp_path):
    """Labels wrote floats with six digits: 1234.5671 and 1234.5674 MHz were one design, each
    workload's numbers overwritten by the other's."""
    layer_file(tmp_path / "l.npz")
    spec = load_spec(spec_file(tmp_path, {"clock_mhz": "[1234.5671, 1234.5674, 800.0]"}, ["l.npz"]))
    with Store(tmp_path / "r.db") as store:
        pts = make_points(spec)
        run_sweep(spec, store, pts, workers=0, progress=False)
        ds = collect(joined(store, pts))
    assert [d.label for d in ds] == ["clock_mhz=1234.5671", "clock_mhz=1234.5674", "clock_mhz=800"]
    assert ds[0].time_us != ds[1].time_us


def test_an_fpga_record_is_part_of_the_point_key(tmp_path):
    """A re-synthesised record (or another under the same name) reused the old resources."""
    rec = json.loads((REPO / "reports" / "fpga" / "ecp5-25k.json").read_text())
    keys = []
    for i, factor in enumerate((1, 3)):
        d = tmp_path / f"rec{i}"
        d.mkdir()
        rec["resources"]["luts"]["used"] *= factor
        (d / "ecp5-25k.json").write_text(json.dumps(rec))
        spec = load_spec(spec_file(tmp_path, {"target": '["ecp5-25k"]', "pes": "[4]"}, ["NT-We"],
                                   extra=f'[fpga]\nrecords = "rec{i}"\n', name=f"s{i}.toml"))
        keys.append(make_points(spec)[0].key)
    assert keys[0] != keys[1]
    # the ASIC points' keys did not move (databases written before stay valid): the key as it
    # was built before, from its parts, by hand
    import hashlib

    from eie import __version__
    from eie.dse.evaluate import RECORD_VERSION, _canonical
    (p,) = make_points(load_spec(spec_file(tmp_path, {"pes": "[4]"}, ["NT-We"], name="a.toml")))
    old = json.dumps({"config": _canonical(p.config.to_dict()), "target": "asic", "workload": p.workload.digest,
                      "energy_table": "fc8", "reference_check": False, "eie": __version__,
                      "record": RECORD_VERSION}, sort_keys=True)
    assert p.key == hashlib.sha256(old.encode()).hexdigest()


def test_a_reused_record_carries_the_name_it_is_read_for(tmp_path):
    """Points are keyed by content: a layer file copied under another name reused the first
    one's record, whose layer and fit problems named the old file."""
    from eie.cli import main
    layer_file(tmp_path / "w.npz", n_out=480, n_in=640)
    (tmp_path / "renamed.npz").write_bytes((tmp_path / "w.npz").read_bytes())
    for name in ("w", "renamed"):
        s = spec_file(tmp_path, {"pes": "[4]", "spmat_kb": "[1]"}, [f"{name}.npz"], name=f"{name}.toml")
        assert main(["dse", str(s), "--db", str(tmp_path / "r.db"), "--json", str(tmp_path / f"{name}.json"),
                     "--workers", "0"]) == 0
    doc = json.loads((tmp_path / "renamed.json").read_text())
    assert doc["reused"] == 1
    (pt,) = doc["points"]
    assert pt["workload"] == "renamed" and [x["name"] for x in pt["layers"]] == ["renamed"]
    assert pt["fit_problems"] and all(p.startswith("renamed: ") for p in pt["fit_problems"])


def test_csv_with_a_target_axis_and_fpga_columns(tmp_path, capsys):
    from eie.cli import main
    s = spec_file(tmp_path, {"target": '["asic", "ecp5-25k"]', "pes": "[4]"}, ["NT-We"],
                  extra=f'[fpga]\nrecords = "{REPO / "reports" / "fpga"}"\n')
    assert main(["dse", str(s), "--db", str(tmp_path / "r.db"), "--csv", str(tmp_path / "o.csv"),
                 "--json", str(tmp_path / "o.json"), "--workers", "0"]) == 0
    with open(tmp_path / "o.csv") as fh:
        header = next(csv.reader(fh))
        fh.seek(0)
        rows = list(csv.DictReader(fh))
    assert header.count("target") == 1 and "fpga_luts_need" in header
    rec = json.loads((REPO / "reports" / "fpga" / "ecp5-25k.json").read_text())
    fpga = {r["target"]: r for r in rows}
    assert fpga["asic"]["fpga_luts_need"] == ""
    assert int(fpga["ecp5-25k"]["fpga_luts_need"]) == rec["resources"]["luts"]["used"]    # the record's own 4 PEs
    doc = json.loads((tmp_path / "o.json").read_text())
    assert doc["failed"] == 0 and doc["failed_points"] == 0


def test_failed_points_counts_the_reused_failures_too(tmp_path):
    from eie.cli import main
    layer_file(tmp_path / "l.npz")
    s = spec_file(tmp_path, {"weight_bits": "[4, 2]", "line_bits": "[64, 48]"}, ["l.npz"])
    for run in range(2):
        assert main(["dse", str(s), "--db", str(tmp_path / "r.db"), "--json", str(tmp_path / f"{run}.json"),
                     "--workers", "0"]) == 0
    first, second = (json.loads((tmp_path / f"{r}.json").read_text()) for r in range(2))
    assert (first["failed"], first["failed_points"]) == (2, 2)
    assert (second["failed"], second["failed_points"], second["reused"]) == (0, 2, 4)


def test_json_naming_the_db_is_refused_as_such_before_the_force_advice(tmp_path, capsys):
    from eie.cli import main
    s = spec_file(tmp_path, {"pes": "[4]"}, ["NT-We"], extra='[dse]\nname = "r"\n')
    (tmp_path / "r.db").write_bytes(b"")
    cwd = os.getcwd()
    os.chdir(tmp_path)                             # the default database: r.db here
    try:
        assert main(["dse", str(s), "--json", "r.db"]) == 2
    finally:
        os.chdir(cwd)
    err = capsys.readouterr().err
    assert "--json and --db name the same file" in err and "--force" not in err


def test_bench_and_dse_build_the_same_benchmark_layer_at_other_weight_bits(tmp_path):
    """eie bench coded its synthetic layers in 4 bits whatever --weight-bits said, eie dse in
    weight_bits (LeNet-ip1 at 8 bits: 794 cycles in one, 799 in the other)."""
    from eie.bench import load_specs, run_bench
    spec_path = spec_file(tmp_path, {"weight_bits": "[8]", "pes": "[7]", "line_bits": "[96]", "queue_depth": "[1]"},
                          ["NT-We"])
    spec = load_spec(spec_path)
    with Store(tmp_path / "r.db") as store:
        pts = make_points(spec)
        run_sweep(spec, store, pts, workers=0, progress=False)
        (row,) = store.rows([pts[0].key])
    cfg = EIEConfig(weight_bits=8, pes=7, line_bits=96, queue_depth=1)
    (bench,) = run_bench(cfg, [s for s in load_specs() if s.name == "NT-We"])
    assert bench["cycles"] == row["record"]["cycles"]


def test_a_workload_no_design_fits_says_so_under_its_own_front(tmp_path):
    from eie.cli import main
    layer_file(tmp_path / "small.npz")
    layer_file(tmp_path / "big.npz", n_out=480, n_in=640)
    s = spec_file(tmp_path, {"pes": "[4, 8]", "spmat_kb": "[1]"}, ["small.npz", "big.npz"])
    assert main(["dse", str(s), "--db", str(tmp_path / "r.db"), "--report", str(tmp_path / "rep"),
                 "--workers", "0"]) == 0
    text = (tmp_path / "rep" / "report.md").read_text()
    assert "Pareto front of big (no design fits its memories: memory sizes ignored)" in text
    assert "Pareto front of small" in text and "Pareto front of small (" not in text      # it fits: no remark
