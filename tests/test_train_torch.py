"""The PyTorch path (eie/train/torch_path.py): the same stages on the nn.Linear layers of any
module.  Skipped when torch is not installed (eie does not depend on it); .ci/run installs it
(tests/test_ci_provides.py fails under CI without it)."""

import copy
import functools

import numpy as np
import pytest
from conftest import import_torch

torch = import_torch()            # .ci/run installs it (tests/test_ci_provides.py)
torch.set_num_threads(1)            # tiny tensors: threads only add overhead on a shared machine

from eie.config import EIEConfig  # noqa: E402
from eie.errors import InputError  # noqa: E402
from eie.train import accelerator_outputs, calibrate_plans  # noqa: E402
from eie.train.torch_path import deep_compress_torch, linear_layers  # noqa: E402


class Net(torch.nn.Module):
    """Linear layers inside a module with something else in it (a scale parameter)."""

    def __init__(self):
        super().__init__()
        self.body = torch.nn.Sequential(torch.nn.Linear(20, 16), torch.nn.ReLU(), torch.nn.Linear(16, 8),
                                        torch.nn.ReLU())
        self.head = torch.nn.Linear(8, 3)
        self.scale = torch.nn.Parameter(torch.ones(1))

    def forward(self, x):
        return self.head(self.body(x)) * self.scale


def data(seed=0):
    rng = np.random.default_rng(seed)
    centres = rng.random((3, 20)) * 2
    y = np.arange(240) % 3
    x = np.maximum(centres[y] + 0.4 * rng.standard_normal((240, 20)), 0).astype(np.float32)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    return [(xt[i:i + 32], yt[i:i + 32]) for i in range(0, 240, 32)], x, y


@functools.cache
def _trained(seed):
    torch.manual_seed(seed)
    model = Net()
    batches, _, _ = data(seed)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    for _ in range(10):
        for xb, yb in batches:
            opt.zero_grad()
            torch.nn.functional.cross_entropy(model(xb), yb).backward()
            opt.step()
    return model, batches


def trained(seed=0):
    """A fresh copy of a briefly trained model (the training runs once per seed)."""
    model, batches = _trained(seed)
    return copy.deepcopy(model), batches


def test_linear_layers_in_order():
    assert [n for n, _ in linear_layers(Net())] == ["body.0", "body.2", "head"]
    with pytest.raises(InputError, match="at least one nn.Linear layer"):
        linear_layers(torch.nn.Sequential(torch.nn.ReLU()))


def test_torch_stages_masks_codes_and_zero():
    model, batches = trained()
    layers = [m for _, m in linear_layers(model)]
    state = {"codes": None, "retrain": 0, "finetune": 0}

    def check(stage, m):
        state[stage] += 1
        if stage == "finetune":
            codes = [lay.weight.detach().numpy().copy() for lay in layers]
            if state["codes"] is not None:
                for before, now in zip(state["codes"], codes, strict=True):
                    assert np.array_equal(before == 0, now == 0)     # the zero pattern (code 0) is fixed
            state["codes"] = codes

    result = deep_compress_torch(model, batches, torch.nn.functional.cross_entropy, densities=[0.2, 0.3, 0.6],
                                 prune_steps=2, retrain_epochs=2, bits=3, finetune_epochs=2, on_step=check)
    assert state["retrain"] == 2 * 2 * len(batches) and state["finetune"] == 2 * len(batches)
    for lay, shared, d in zip(layers, result.layers, [0.2, 0.3, 0.6], strict=True):
        assert shared.codebook[0] == 0.0 and shared.codebook.size == 8
        assert np.count_nonzero(shared.codes) == round(d * shared.codes.size)
        w = lay.weight.detach().numpy()
        assert np.array_equal(w, shared.codebook[shared.codes])      # the module computes the shared weights
        assert np.array_equal(lay.bias.detach().numpy(), shared.bias)
    assert [s.name for s in result.storage] == ["body.0", "body.2", "head"]


def test_torch_masked_gradient_every_step():
    """The tensor hook zeroes the gradient of pruned weights, so even plain SGD with momentum
    and weight decay leaves them at exactly 0 after every step."""
    model, batches = trained(1)
    layers = [m for _, m in linear_layers(model)]
    zeros = {}

    def check(stage, m):
        if stage != "retrain":
            return
        for lay in layers:
            z = lay.weight.detach() == 0
            prev = zeros.get(id(lay))
            if prev is not None and prev.shape == z.shape:
                assert bool((z | ~prev).all())        # every weight that was 0 is still 0
            zeros[id(lay)] = z

    deep_compress_torch(model, batches, torch.nn.functional.cross_entropy, densities=[0.1, 0.2, 0.5],
                        prune_steps=3, retrain_epochs=1, finetune_epochs=1, on_step=check,
                        make_optimizer=lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9, weight_decay=1e-3))
    for lay, d in zip(layers, [0.1, 0.2, 0.5], strict=True):
        assert np.count_nonzero(lay.weight.detach().numpy()) == round(d * lay.weight.numel())


def test_torch_result_runs_on_the_fixed_point():
    """The shared layers of a PyTorch model run on the array's fixed point and agree with the
    model (divided by its scale parameter, which is not a Linear layer and stays off the array)."""
    model, batches = trained(2)
    result = deep_compress_torch(model, batches, torch.nn.functional.cross_entropy, densities=[0.3, 0.3, 0.6],
                                 prune_steps=2, retrain_epochs=1, finetune_epochs=1)
    _, x, _ = data(2)
    cfg = EIEConfig()
    plans = calibrate_plans(result.layers, x, cfg)
    run = accelerator_outputs(result.layers, x, plans, cfg)
    with torch.no_grad():
        ref = (model(torch.from_numpy(x)) / model.scale).numpy()
    assert np.mean(run.outputs_q.argmax(axis=1) == ref.argmax(axis=1)) > 0.97
    assert np.max(np.abs(run.outputs - ref)) < 0.05


def test_torch_errors():
    model, batches = trained()
    with pytest.raises(InputError, match=r"densities must give one density per nn.Linear layer \(3\), not 2"):
        deep_compress_torch(model, batches, torch.nn.functional.cross_entropy, densities=[0.1, 0.2])
