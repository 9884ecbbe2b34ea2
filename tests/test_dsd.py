"""DSD training (eie/train/dsd*.py, `eie dsd`): the mask holds through the sparse step, the
re-dense step starts from zeros at the pruned positions and trains at the dropped rate, runs
repeat bit for bit from the seed, the baselines differ from DSD only where they should, the
command refuses bad input before any work, and the committed report agrees with its data."""

import json
import math
import re
from pathlib import Path

import numpy as np
import pytest
from conftest import import_torch
from test_train import blobs, needs_mnist, run_cli, tiny_dataset

from eie.errors import InputError
from eie.fileio import dumps_json
from eie.train import (
    MLP,
    DSDConfig,
    TrainConfig,
    array_speed,
    dense_step,
    dsd_train,
    redense_step,
    run_dsd,
    sparse_step,
)
from eie.train.dsd_example import pruned_weight_stats, silent_weights
from eie.train.dsd_report import paired_se, rebuild_files, verdict
from eie.train.mlp import minibatches

REPORT = Path(__file__).resolve().parents[1] / "reports" / "dsd"

#: a small run of the example's code on the blobs of test_train
TINY = TrainConfig(hidden=(16, 8), dense_epochs=3, batch=16, densities=(0.3, 0.4, 0.6), prune_steps=1,
                   retrain_epochs=1, finetune_epochs=1)
TINY_DSD = DSDConfig(sparsity=0.5, sparse_epochs=2, redense_epochs=2)


def trained(seed=0, sizes=(20, 16, 8, 3)):
    x, y = blobs()
    rng = np.random.default_rng(seed)
    model = MLP.init(list(sizes), rng)
    dense_step(model, x, y, train=TINY, rng=rng)
    return model, x, y


def largest(w: np.ndarray, keep: int) -> np.ndarray:
    """By hand: the mask of the ``keep`` largest |w| (numpy argsort, ties to the lower index)."""
    order = np.argsort(-np.abs(w).ravel(), kind="stable")[:keep]
    m = np.zeros(w.size, bool)
    m[order] = True
    return m.reshape(w.shape)


# ---- the sparse step ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("optimizer", ["adam", "sgd"])
def test_pruned_weights_stay_exactly_zero_through_the_sparse_step(optimizer):
    model, x, y = trained()
    train = TINY.replace(optimizer=optimizer, lr=0.05 if optimizer == "sgd" else 3e-3)
    expected = [largest(w, round(0.5 * w.size)) for w in model.weights]
    steps = []

    def wrap(step, masks):
        def checking(gw, gb):
            step(gw, gb)
            for w, m in zip(model.weights, masks, strict=True):
                assert np.all(w[~m] == 0.0)
                assert np.all(w[m] != 0.0)                 # the kept weights train
            steps.append(1)
        return checking

    masks = sparse_step(model, x, y, train=train, dsd=TINY_DSD, rng=np.random.default_rng(5), wrap_step=wrap)
    assert len(steps) == 2 * 15                                # epochs x batches of 16 of 240 images
    for m, e in zip(masks, expected, strict=True):
        assert np.array_equal(m, e)                            # the largest |w| of each layer, one ratio for all


def test_redense_starts_from_zero_at_the_pruned_weights_and_restores_them():
    model, x, y = trained(1)
    masks = sparse_step(model, x, y, train=TINY, dsd=TINY_DSD, rng=np.random.default_rng(2))
    seen = []

    def wrap(step):
        def first(gw, gb):
            if not seen:
                seen.append([w[~m].copy() for w, m in zip(model.weights, masks, strict=True)])
            step(gw, gb)
        return first

    redense_step(model, x, y, train=TINY, dsd=TINY_DSD, rng=np.random.default_rng(3), wrap_step=wrap)
    assert all(np.all(v == 0.0) for v in seen[0])              # the first update sees zeros there
    # and then they train, in every layer (not those of a unit ReLU keeps silent on every image: no gradient)
    moved = [np.count_nonzero(w[~m]) for w, m in zip(model.weights, masks, strict=True)]
    assert all(moved) and sum(moved) > 0.5 * sum((~m).sum() for m in masks)


class Stop(Exception):
    pass


def test_redense_trains_at_the_dropped_rate():
    """SGD with momentum: the first update of a fresh optimiser is -rate * (gradient + L2
    term); the re-dense rate is lr_drop * lr.  The gradient of the first minibatch is taken
    from a copy of the generator."""
    model, x, y = trained(2)
    train = TINY.replace(optimizer="sgd", lr=0.05)
    dsd = TINY_DSD.replace(lr_drop=0.2)
    idx = minibatches(len(x), train.batch, np.random.default_rng(9))[0]
    before = model.copy()
    _, gw, _ = before.loss_and_grads(x[idx], y[idx])

    def stop_after_one(step):
        def once(gw_, gb_):
            step(gw_, gb_)
            raise Stop
        return once

    with pytest.raises(Stop):
        redense_step(model, x, y, train=train, dsd=dsd, rng=np.random.default_rng(9), wrap_step=stop_after_one)
    lr = np.float32(0.2 * 0.05)
    for w0, w1, g in zip(before.weights, model.weights, gw, strict=True):
        expect = w0 - lr * (g + np.float32(train.weight_decay) * w0)
        np.testing.assert_allclose(w1, expect, rtol=1e-5, atol=1e-7)
        assert not np.allclose(w1, w0 - np.float32(0.05) * (g + np.float32(train.weight_decay) * w0), atol=1e-7)


# ---- reproducibility and the baselines -------------------------------------------------------------------------

def test_dsd_train_is_bit_identical_for_a_seed():
    x, y = blobs()

    def run(seed):
        model = MLP.init([20, 16, 8, 3], np.random.default_rng(seed))
        rngs = tuple(np.random.default_rng(seed + k) for k in (1, 2, 3))
        res = dsd_train(model, x, y, train=TINY, dsd=TINY_DSD, rngs=rngs, val=(x[:40], y[:40]))
        return model, res

    (a, ra), (b, rb), (c, _) = run(4), run(4), run(5)
    assert all(np.array_equal(p, q) for p, q in zip(a.weights + a.biases, b.weights + b.biases, strict=True))
    assert [e.to_dict() for e in ra.log] == [e.to_dict() for e in rb.log]
    assert [e.step for e in ra.log] == ["dense"] * 3 + ["sparse"] * 2 + ["redense"] * 2
    assert not np.array_equal(a.weights[0], c.weights[0])


def test_run_dsd_repeats_and_its_baselines():
    data = tiny_dataset()
    a = run_dsd(data, TINY, TINY_DSD, seed=3, compress=False)
    b = run_dsd(data, TINY, TINY_DSD, seed=3, compress=False)
    c = run_dsd(data, TINY, TINY_DSD, seed=4, compress=False)
    da, db = a.to_dict(), b.to_dict()
    da.pop("times_s"), db.pop("times_s")
    assert da == db
    assert all(np.array_equal(p, q) for p, q in zip(a.model.weights, b.model.weights, strict=True))
    assert not np.array_equal(a.model.weights[0], c.model.weights[0])
    steps = [e.step for e in a.log]
    total = TINY.dense_epochs + TINY_DSD.epochs
    assert steps.count("dense_same_epochs") == total           # the baseline has DSD's epochs
    assert steps.count("dense_continued") == TINY_DSD.epochs
    assert a.kept == [pytest.approx(0.5, abs=0.02)] * 3


def test_without_pruning_dsd_is_the_continued_baseline_bit_for_bit():
    """Sparsity 0 prunes nothing: DSD's steps are then the continued baseline's exactly (same
    rates, epochs, minibatch order), so the baseline differs from DSD by the pruning alone."""
    run = run_dsd(tiny_dataset(1), TINY, TINY_DSD.replace(sparsity=0.0), seed=2, compress=False)
    assert run.test["dsd"] == run.test["dense_continued"] and run.val["dsd"] == run.val["dense_continued"]
    log = {s: [e.loss for e in run.log if e.step == s] for s in ("sparse", "redense", "dense_continued")}
    assert log["sparse"] + log["redense"] == log["dense_continued"]
    pruned = run_dsd(tiny_dataset(1), TINY, TINY_DSD, seed=2, compress=False)
    assert [e.loss for e in pruned.log if e.step == "sparse"] != log["sparse"]


def test_run_dsd_on_the_array():
    data = tiny_dataset(2)
    run = run_dsd(data, TINY, TINY_DSD, seed=1, sim_images=3)
    by = {a.variant: a for a in run.on_array}
    assert list(by) == ["dense_same_epochs", "dsd", "dc", "dsd_dc"]
    for v in ("dc", "dsd_dc"):
        assert [round(s.density, 1) for s in by[v].run.storage] == [0.3, 0.4, 0.6]
    assert by["dense_same_epochs"].run.total["density"] > 0.95
    assert by["dsd_dc"].run.test.dense == run.test["dsd"]      # compressed from the DSD network
    assert by["dc"].run.test.dense == run.test["dense_same_epochs"]
    for a in run.on_array:
        assert a.speed.images == 3 and a.speed.cycles > 0 and a.speed.outputs_match_reference


def test_array_speed_is_the_mean_over_images():
    run = run_dsd(tiny_dataset(3), TINY, TINY_DSD, seed=0, sim_images=1)
    layers, plans = run.on_array[2].run.net.layers, run.on_array[2].run.accelerator.plans
    from eie.config import EIEConfig
    x = tiny_dataset(3).x_test[:3]
    one = [array_speed(layers, x[i:i + 1], plans, EIEConfig()) for i in range(3)]
    three = array_speed(layers, x, plans, EIEConfig())
    assert three.cycles == pytest.approx(sum(s.cycles for s in one) / 3)
    assert three.energy_pj == pytest.approx(sum(s.energy_pj for s in one) / 3)
    with pytest.raises(InputError, match="at least one image"):
        array_speed(layers, x[:0], plans, EIEConfig())


def test_silent_weights_by_hand():
    """Unit 1 of the hidden layer never fires on non-negative inputs and input 2 is always 0:
    their weights get no gradient, in both layers; nothing else is silent."""
    w0 = np.array([[1.0, 0.5, 0.2], [-1.0, -1.0, -1.0]], np.float32)
    model = MLP([w0, np.array([[1.0, 2.0], [0.5, -1.0]], np.float32)],
                [np.array([0.0, -1.0], np.float32), np.zeros(2, np.float32)])
    x = np.array([[1.0, 0.0, 0.0], [0.0, 2.0, 0.0]], np.float32)
    weights, units = silent_weights(model, x)
    assert weights[0].tolist() == [[False, False, True], [True, True, True]]
    assert weights[1].tolist() == [[False, True], [False, True]]
    assert [u.tolist() for u in units] == [[False, True]]
    # prune w0[0, 1] (live), w0[0, 2] (blank input) and w0[1, 0] (silent unit); w0[0, 1] is then non-zero again
    masks = [np.array([[True, False, False], [False, True, True]]), np.ones((2, 2), bool)]
    w0[0, 2] = w0[1, 0] = 0.0
    restored, silent, other = pruned_weight_stats(model, masks, x)
    assert (restored, silent, other) == (pytest.approx(1 / 3), pytest.approx(2 / 3), 1.0)


# ---- configuration -------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("changes, message", [
    ({"sparsity": 1.0}, r"sparsity must be a number in \[0, 1\), not 1.0"),
    ({"sparsity": -0.1}, r"sparsity must be a number in \[0, 1\), not -0.1"),
    ({"sparse_epochs": -1}, "sparse_epochs must be an integer >= 0, not -1"),
    ({"lr_drop": 0}, r"lr_drop must be a number in \(0, 1\], not 0"),
    ({"sparse_lr": float("nan")}, "sparse_lr must be a finite number > 0"),
    ({"drop": 0.1}, "unknown DSD key 'drop'"),
])
def test_dsd_config_errors(changes, message):
    with pytest.raises(InputError, match=message):
        DSDConfig().replace(**changes)


def test_learning_rates_of_the_steps():
    train = TrainConfig(lr=0.004)
    assert DSDConfig(lr_drop=0.1).lrs(train) == (0.004, pytest.approx(0.0004))
    assert DSDConfig(sparse_lr=0.001, lr_drop=0.5).lrs(train) == (0.001, pytest.approx(0.002))


# ---- the verdict -------------------------------------------------------------------------------------------------

def verdict_doc(diffs, right_only, wrong_only, n=1000):
    runs = [{"test": {"dsd": 0.95 + d, "dense_same_epochs": 0.95}} for d in diffs]
    mean = float(np.mean(diffs))
    sd = float(np.std(diffs, ddof=1))
    return {"gain": {"dsd_vs_dense_same_epochs": {"mean": mean, "sd": sd, "min": min(diffs), "max": max(diffs)}},
            "paired_test": {"dsd_right_baseline_wrong": right_only, "dsd_wrong_baseline_right": wrong_only,
                            "image_runs": n * len(diffs)}, "runs": runs}


def test_verdict_says_helps_only_beyond_the_noise():
    # +1 point in every seed: 60 vs 10 discordant images of 5,000 image-runs, SE = sqrt(70)/5000 = 0.17 points
    doc = verdict_doc([0.01] * 5, 60, 10)
    assert paired_se(doc) == pytest.approx(100 * math.sqrt(70) / 5000)
    assert verdict(doc).startswith("DSD helps here, by +1.00 ± 0.00 points")
    assert "DSD ahead in 5 of 5 seeds" in verdict(doc)
    mixed = verdict_doc([0.002, -0.001, 0.001, 0.0, 0.003], 30, 25)
    assert verdict(mixed).startswith("DSD does not measurably help here: +0.10")
    worse = verdict_doc([-0.01] * 5, 10, 60)
    assert verdict(worse).startswith("DSD hurts here, by -1.00")


def test_warning_when_most_units_are_silent():
    from eie.train.dsd_example import VARIANTS
    from eie.train.dsd_report import silent_warning
    doc = {"dataset": "d", "train_config": TrainConfig().to_dict(), "dsd_config": DSDConfig().to_dict(),
           "silent_units": {k: [{"mean": 0.2}, {"mean": 0.1}] for k in VARIANTS}}
    assert silent_warning(doc) == []
    doc["silent_units"]["dsd"][1] = {"mean": 0.51}
    assert silent_warning(doc)[0].startswith("**Warning: most of the network is silent.** Up to 51 % of hidden "
                                              "layer 2's units never fire on a training image (DSD)")


# ---- the command line --------------------------------------------------------------------------------------------

@needs_mnist
def test_eie_dsd_end_to_end_on_a_tiny_budget(tmp_path, capsys, monkeypatch):
    out, js = tmp_path / "dsd", tmp_path / "d.json"
    code, text, err = run_cli(["dsd", "--epochs", 1, "--train-images", 140, "--test-images", 50, "--sim-images", 2,
                               "--seeds", 2, "--sparsity", 0.3, "-o", out, "--json", js], capsys)
    assert code == 0, err
    assert "dsd [" in err and "100%" in err                      # the progress bar, on stderr
    assert "test top-1 on 50 images, mean ± sd over 2 seeds" in text and "DSD, then Deep Compression" in text
    doc = json.loads(js.read_text())
    assert doc == json.loads((out / "report.json").read_text())
    assert doc["dsd_config"]["sparsity"] == 0.3 and doc["seeds"] == [0, 1]
    manifest = json.loads((out / "manifest.json").read_text())
    from eie.cli.dsd import planned_files
    assert manifest["files"] == sorted(planned_files([0, 1], True) + ["manifest.json"])
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()) == manifest["files"]
    seed1 = json.loads((out / "seed-1.json").read_text())
    assert seed1["seed"] == 1 and len(seed1["log"]) == 3 + 3 + 2          # DSD, same epochs, continued
    assert (out / "dsd.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    check_report_consistency(out)
    assert_fresh(out)
    # refused before any training, and nothing changed
    before = (out / "report.md").read_text()

    def no_training(*args, **kwargs):
        raise AssertionError("trained before refusing the output directory")

    monkeypatch.setattr("eie.train.dsd_example.run_dsd", no_training)
    code, _, err = run_cli(["dsd", "-o", out], capsys)
    assert code == 2 and "already holds" in err and "use --force" in err
    assert (out / "report.md").read_text() == before


@needs_mnist
def test_eie_dsd_verbose_prints_every_epoch(capsys):
    code, _, err = run_cli(["dsd", "--epochs", 1, "--train-images", 70, "--test-images", 20, "--no-array", "-v"],
                           capsys)
    assert code == 0
    assert re.findall(r"^seed 0 (\w+) epoch 1: loss [\d.]+, validation [\d.]+ %$", err, re.M) == [
        "dense", "sparse", "redense", "dense_same_epochs", "dense_continued", "dense_continued"]


@pytest.mark.parametrize("args, message", [
    (["--sparsity", 1.5], r"--sparsity must be a number in [0, 1), not 1.5"),
    (["--lr-drop", 0], r"--lr-drop must be a number in (0, 1], not 0.0"),
    (["--sparse-lr", -1], "--sparse-lr must be a finite number > 0, not -1.0"),
    (["--seeds", 0], "--seeds must be an integer >= 1, not 0"),
    (["--epochs", 0], "--epochs must be an integer >= 1, not 0"),
    (["--sim-images", 0], "--sim-images must be an integer >= 1, not 0"),
])
def test_bad_input_is_one_error_and_exit_2(tmp_path, capsys, args, message):
    out = tmp_path / "o"
    code, text, err = run_cli(["dsd", *args, "-o", out], capsys)
    assert code == 2 and err == f"eie: error: {message}\n" and text == ""
    assert not out.exists()


def test_train_config_file_tables(tmp_path, capsys):
    f = tmp_path / "t.toml"
    f.write_text("lr = 0.1\n")
    code, _, err = run_cli(["dsd", "--train-config", f], capsys)
    assert code == 2 and "'lr' is neither the [train] nor the [dsd] table" in err
    f.write_text("[dsd]\nsparsity = 2.0\n")
    code, _, err = run_cli(["dsd", "--train-config", f], capsys)
    assert code == 2 and "sparsity must be a number in [0, 1), not 2.0" in err


# ---- the committed report ----------------------------------------------------------------------------------------

def check_report_consistency(out: Path):
    """The summary, the tables and the verdict of a report directory agree with its per-seed
    files, recomputed here with numpy."""
    doc = json.loads((out / "report.json").read_text())
    seeds = [json.loads((out / f"seed-{s}.json").read_text()) for s in doc["seeds"]]
    for k, stats in doc["test_accuracy"].items():
        v = np.array([s["test"][k] for s in seeds])
        assert stats["mean"] == pytest.approx(v.mean()) and stats["min"] == v.min() and stats["max"] == v.max()
        if len(v) > 1:
            assert stats["sd"] == pytest.approx(v.std(ddof=1))
    gain = np.array([s["test"]["dsd"] - s["test"]["dense_same_epochs"] for s in seeds])
    assert doc["gain"]["dsd_vs_dense_same_epochs"]["mean"] == pytest.approx(gain.mean())
    n_test = doc["test_images"]
    assert doc["paired_test"]["image_runs"] == n_test * len(seeds)
    for s in seeds:                                            # discordant pairs bound the accuracy difference
        p = s["paired_test"]
        assert (p["dsd_right_baseline_wrong"] - p["dsd_wrong_baseline_right"]) == round(
            n_test * (s["test"]["dsd"] - s["test"]["dense_same_epochs"]))
    md = (out / "report.md").read_text()
    assert verdict(doc) in md and verdict(doc) in (out / "report.html").read_text()
    table = json.loads((out / "data" / "accuracy.json").read_text())
    for row, s in zip(table["rows"], seeds, strict=True):
        assert row["seed"] == s["seed"] and row["dsd"] == pytest.approx(100 * s["test"]["dsd"])
        assert f"| {s['seed']} | {100 * s['test']['dense']:.2f} % |" in md
    if "on_array" in doc:
        for v, stats in doc["on_array"].items():
            cycles = [a["speed"]["cycles"] for s in seeds for a in s["on_array"] if a["variant"] == v]
            assert stats["cycles"]["mean"] == pytest.approx(np.mean(cycles))


def first_difference(a: str, b: str) -> str:
    for i, (x, y) in enumerate(zip(a.splitlines(), b.splitlines(), strict=False)):
        if x != y:
            return f"line {i + 1}: committed {x[:100]!r}, rebuilt {y[:100]!r}"
    return f"lengths differ: {len(a.splitlines())} vs {len(b.splitlines())} lines"


def assert_fresh(out: Path):
    """The committed text is what the code makes of the committed per-seed records today."""
    for name, content in rebuild_files(out).items():
        if name.endswith(".png"):
            assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        elif isinstance(content, dict):
            assert json.loads((out / name).read_text()) == json.loads(dumps_json(content)), name
        else:
            committed = (out / name).read_text()
            assert committed == content, f"{out / name} is stale ({first_difference(committed, content)}): " \
                                         f"rebuild it (docs/dsd.md)"


@pytest.mark.parametrize("where, dataset", [("", "mnist-5k"), ("fashion-mnist", "fashion-mnist")])
def test_committed_report_is_consistent(where, dataset):
    out = REPORT / where
    if not (out / "report.json").exists():
        pytest.skip(f"{out} is not generated")
    check_report_consistency(out)
    doc = json.loads((out / "report.json").read_text())
    manifest = json.loads((out / "manifest.json").read_text())
    assert len(doc["seeds"]) >= 3 and doc["dataset"] == dataset
    assert manifest["command"] == doc["command"] and manifest["regenerate"].startswith(doc["command"])
    present = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    assert [f for f in present if not f.startswith(("validation.", "fashion-mnist/"))] == manifest["files"]
    assert DSDConfig.from_mapping(doc["dsd_config"]) == DSDConfig()        # made with the defaults
    assert_fresh(out)
    if dataset == "mnist-5k":
        assert len(doc["seeds"]) >= 5 and doc["test_images"] == 1000 and "on_array" in doc
        val = json.loads((out / "validation.json").read_text())
        chosen = {k: val["chosen"][k] for k in DSDConfig().to_dict()}
        assert chosen == DSDConfig().to_dict()                  # the defaults are the validation choice


# ---- PyTorch -------------------------------------------------------------------------------------------------------

def test_torch_dsd_masks_hold_and_restore():
    torch = import_torch()

    from eie.train.torch_path import dsd_torch, linear_layers
    torch.manual_seed(0)
    x, y = blobs()
    batches = [(torch.from_numpy(x[i:i + 32]), torch.from_numpy(y[i:i + 32])) for i in range(0, len(x), 32)]
    model = torch.nn.Sequential(torch.nn.Linear(20, 16), torch.nn.ReLU(), torch.nn.Linear(16, 3))
    weights = [m.weight for _, m in linear_layers(model)]
    expected = [largest(w.detach().numpy(), round(0.5 * w.numel())) for w in weights]
    holder = {}

    def on_step(stage, _model):
        if stage == "sparse":
            for w, m in zip(weights, holder.setdefault("masks", expected), strict=True):
                assert torch.all(w.detach()[torch.from_numpy(~m)] == 0)

    def on_epoch(stage, epoch):
        if stage == "sparse" and epoch == 2:
            holder["end_sparse"] = [w.detach().clone() for w in weights]

    masks = dsd_torch(model, batches, torch.nn.functional.cross_entropy, sparsity=0.5, sparse_epochs=2,
                      redense_epochs=2, on_step=on_step, on_epoch=on_epoch)
    for m, e, w0, w in zip(masks, expected, holder["end_sparse"], weights, strict=True):
        assert np.array_equal(m, e)
        assert torch.all(w0[torch.from_numpy(~m)] == 0)                  # the re-dense step starts from 0 there
        assert torch.count_nonzero(w.detach()[torch.from_numpy(~m)]) > 0  # and trains them
