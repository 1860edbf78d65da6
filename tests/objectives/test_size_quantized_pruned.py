"""ModelSize of quantized and pruned torch models: the figures are computed here from the models' own state_dicts."""

from __future__ import annotations

import copy
import io

import numpy as np
import pytest
import torch
from torch.ao.quantization import quantize_dynamic
from torch.nn.utils import prune

import moo_hpo as mh

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::UserWarning")


def mlp():
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(64, 100), torch.nn.ReLU(), torch.nn.Linear(100, 10))


def nbytes(t):
    return t.numel() * t.element_size()


def params(model):
    return sum(p.numel() for p in model.parameters())


def test_a_dynamically_quantized_model_counts_its_int8_weights_and_what_they_store():
    float_model = mlp()
    quantized = quantize_dynamic(mlp(), {torch.nn.Linear}, dtype=torch.qint8)
    state = quantized.state_dict()
    weights = [state[f"{i}._packed_params._packed_params"] for i in (0, 2)]  # (int8 weight, fp32 bias) per layer
    assert all(w.dtype == torch.qint8 and b.dtype == torch.float32 for w, b in weights)
    qparams = 2 * (8 + 8)  # a per-tensor scale (double) and zero point (int64) per weight
    outputs = sum(nbytes(state[f"{i}.{name}"]) for i in (0, 2) for name in ("scale", "zero_point"))
    stored = sum(nbytes(w.int_repr()) + nbytes(b) for w, b in weights) + qparams + outputs
    m = mh.objectives.ModelSize(precisions=["int8", "fp32"]).measure(quantized)
    assert m["param_count"] == params(float_model) == sum(w.numel() + b.numel() for w, b in weights)
    assert m["size_kb"] == pytest.approx(stored / 1024)  # about 7.7 KB; it read 0.02 KB
    assert 7 < m["size_kb"] < 8
    # at a precision: the parameters at it, the scales, zero points and output quantization as stored
    # at its own precision, what it stores (fp32 biases included: counting them at one byte let a model that stores
    # 7.71 KB pass a 7.5 KB budget on size_kb_int8)
    assert (params(float_model) + qparams + outputs) / 1024 < m["size_kb_int8"] == pytest.approx(m["size_kb"])
    assert m["size_kb_int8"] >= mh.objectives.ModelSize(precisions=["int8"]).measure(float_model)["size_kb_int8"]
    assert m["size_kb_fp32"] == pytest.approx((4 * params(float_model) + qparams + outputs) / 1024)
    nonzero = sum(int(torch.count_nonzero(w.dequantize())) + int(torch.count_nonzero(b)) for w, b in weights)
    assert m["param_count_nonzero"] == nonzero
    assert m.extra["size"]["quantized"] == ["torch.qint8"]


def test_a_statically_quantized_model_counts_its_per_channel_scales_and_unregistered_biases():
    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.quant, self.dequant = torch.ao.quantization.QuantStub(), torch.ao.quantization.DeQuantStub()
            self.conv, self.fc = torch.nn.Conv2d(1, 4, 3), torch.nn.Linear(4 * 6 * 6, 3)

        def forward(self, x):
            return self.dequant(self.fc(torch.relu(self.conv(self.quant(x))).flatten(1)))

    torch.manual_seed(0)
    model = Net().eval()
    float_count = params(model)
    model.qconfig = torch.ao.quantization.get_default_qconfig("fbgemm")
    prepared = torch.ao.quantization.prepare(model)
    prepared(torch.randn(8, 1, 8, 8))
    converted = torch.ao.quantization.convert(prepared)
    state = converted.state_dict()
    conv_w, conv_b = state["conv.weight"], state["conv.bias"]
    fc_w, fc_b = state["fc._packed_params._packed_params"]
    assert conv_w.qscheme() == torch.per_channel_affine  # one scale and zero point per output channel

    def qparams(w):
        return nbytes(w.q_per_channel_scales()) + nbytes(w.q_per_channel_zero_points())

    weights = nbytes(conv_w.int_repr()) + nbytes(fc_w.int_repr()) + qparams(conv_w) + qparams(fc_w)
    others = sum(nbytes(v) for k, v in state.items() if k.endswith(("scale", "zero_point")))  # output quantization
    m = mh.objectives.ModelSize().measure(converted)
    assert m["param_count"] == float_count == conv_w.numel() + conv_b.numel() + fc_w.numel() + fc_b.numel()
    assert m["size_kb"] == pytest.approx((weights + nbytes(conv_b) + nbytes(fc_b) + others) / 1024)


def test_weights_packed_at_fp16_count_two_bytes_each():
    linear = torch.nn.Sequential(torch.nn.Linear(32, 16))
    quantized = quantize_dynamic(copy.deepcopy(linear), {torch.nn.Linear}, dtype=torch.float16)
    outputs = sum(nbytes(v) for k, v in quantized.state_dict().items() if k.endswith(("scale", "zero_point")))
    m = mh.objectives.ModelSize().measure(quantized)
    assert m["param_count"] == 32 * 16 + 16
    assert m["size_kb"] == pytest.approx((32 * 16 * 2 + 16 * 4 + outputs) / 1024)  # fp16 weight, fp32 bias
    assert m.extra["size"]["quantized"] == ["torch.float16"]


def test_a_quantized_lstm_counts_each_weight_and_bias_once():
    lstm = torch.nn.Sequential(torch.nn.LSTM(8, 16, num_layers=2))
    quantized = quantize_dynamic(copy.deepcopy(lstm), {torch.nn.LSTM}, dtype=torch.qint8)
    weights = [p for name, p in lstm.named_parameters() if "weight" in name]
    biases = [p for name, p in lstm.named_parameters() if "bias" in name]
    m = mh.objectives.ModelSize().measure(quantized)
    assert m["param_count"] == params(lstm)  # a cell's bias is also in its packed weights: counted once
    expected = sum(w.numel() + 16 for w in weights) + sum(nbytes(b) for b in biases)  # int8 weights, their scales
    assert m["size_kb"] == pytest.approx(expected / 1024)


def pruned_mlp():
    model = mlp()
    prune.l1_unstructured(model[0], "weight", amount=0.9)
    prune.l1_unstructured(model[0], "weight", amount=0.5)  # pruned twice: one PruningContainer
    prune.random_unstructured(model[2], "bias", amount=0.3)
    return model


def test_a_pruned_model_counts_each_weight_once_and_its_nonzero_ones():
    model = pruned_mlp()
    effective = [model[0].weight, model[0].bias, model[2].weight, model[2].bias]  # orig * mask where pruned
    shipped = pruned_mlp()  # the same (the random pruning seeded alike), made permanent
    prune.remove(shipped[0], "weight")
    prune.remove(shipped[2], "bias")
    probe = mh.objectives.ModelSize(precisions=["int8"])
    before = {k: v.clone() for k, v in model.state_dict().items()}
    m, plain = probe.measure(model), probe.measure(mlp())
    assert prune.is_pruned(model) and all(torch.equal(before[k], v) for k, v in model.state_dict().items())  # as it was
    assert m["param_count"] == plain["param_count"] == sum(t.numel() for t in effective)
    assert m["size_kb"] == pytest.approx(sum(nbytes(t) for t in effective) / 1024)  # the masks not counted
    assert m["size_kb"] == pytest.approx(plain["size_kb"]) and m["size_kb_int8"] == pytest.approx(plain["size_kb_int8"])
    assert m["param_count_nonzero"] == sum(int(torch.count_nonzero(t)) for t in effective) < 0.2 * m["param_count"]
    buf = io.BytesIO()
    torch.save(shipped.state_dict(), buf)
    assert m["serialized_kb"] == pytest.approx(buf.tell() / 1024)  # as prune.remove ships it
    assert m["serialized_kb"] <= plain["serialized_kb"]
    assert m.extra["size"]["pruned"] == ["0.weight", "2.bias"]
    assert plain["param_count_nonzero"] == plain["param_count"]  # nothing pruned, no weight exactly zero


def test_the_nonzero_count_of_an_l1_regularised_estimator():
    from sklearn.datasets import load_diabetes
    from sklearn.linear_model import Lasso

    X, y = load_diabetes(return_X_y=True)
    sparse = Lasso(alpha=1.0).fit(X, y)
    m = mh.objectives.ModelSize().measure(sparse)
    assert m["param_count_nonzero"] == np.count_nonzero(sparse.coef_) + np.count_nonzero(sparse.intercept_)
    assert m["param_count_nonzero"] < m["param_count"] == 10 + 1


def test_a_study_on_the_nonzero_count_of_fitted_quantized_models():
    space = mh.Space({"width": mh.Int(8, 64)})

    def fit(config):
        torch.manual_seed(0)
        width = config["width"]
        model = torch.nn.Sequential(torch.nn.Linear(16, width), torch.nn.ReLU(), torch.nn.Linear(width, 2))
        prune.l1_unstructured(model[0], "weight", amount=0.5)
        prune.remove(model[0], "weight")
        return quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8)

    study = mh.Study(space, [mh.Minimize("size_kb"), mh.Minimize("param_count_nonzero")], optimizer="random", seed=0)
    study.optimize(fit, probes=[mh.objectives.ModelSize()], n_trials=3, show_progress=False)
    for t in study.trials:
        width = t.config["width"]
        assert t.status is mh.TrialStatus.COMPLETE
        assert t.metrics["param_count"] == 16 * width + width + width * 2 + 2
        assert t.metrics["size_kb"] > (16 * width + width * 2) / 1024  # one byte per int8 weight at least
        assert t.metrics["param_count_nonzero"] < t.metrics["param_count"]


def test_a_state_entry_it_cannot_read_is_named():
    class Opaque:
        pass

    class Packed(torch.nn.Module):
        def _save_to_state_dict(self, destination, prefix, keep_vars):
            destination[prefix + "_packed"] = Opaque()  # weights in a form ModelSize does not know

    model = torch.nn.Sequential(torch.nn.Linear(4, 4), Packed())
    with pytest.raises(mh.ProbeError, match=r"cannot measure Packed \('1._packed'\).*Opaque; expected tensors"):
        mh.objectives.ModelSize().measure(model)


def test_a_quantized_module_whose_weights_its_state_dict_does_not_show_is_named():
    from torch.ao.nn.quantized.dynamic import Linear as DynamicLinear

    class Hidden(DynamicLinear):
        def _save_to_state_dict(self, destination, prefix, keep_vars):
            pass  # keeps its packed weights to itself

    hidden = Hidden(8, 4)
    hidden._packed_params._save_to_state_dict = lambda destination, prefix, keep_vars: None
    model = torch.nn.Sequential(hidden)
    with pytest.raises(mh.ProbeError, match=r"cannot measure Hidden \('0'\): it holds packed weights"):
        mh.objectives.ModelSize().measure(model)


def test_peak_memory_and_latency_measure_a_pruned_model_as_it_ships_and_leave_its_masks():
    wide = torch.nn.Sequential(torch.nn.Linear(256, 1024), torch.nn.ReLU(), torch.nn.Linear(1024, 1024), torch.nn.ReLU(),
                               torch.nn.Linear(1024, 2))
    for layer in (wide[0], wide[2], wide[4]):
        prune.l1_unstructured(layer, "weight", amount=0.5)
    shipped = torch.nn.Sequential(torch.nn.Linear(256, 1024), torch.nn.ReLU(), torch.nn.Linear(1024, 1024), torch.nn.ReLU(),
                                  torch.nn.Linear(1024, 2))
    shipped.load_state_dict({k.removesuffix("_orig"): v * wide.state_dict().get(k.removesuffix("_orig") + "_mask", 1)
                             for k, v in wide.state_dict().items() if not k.endswith("_mask")})
    weight_before = wide[0].weight.clone()
    x = np.zeros(256, dtype=np.float32)
    masked = mh.objectives.PeakMemory(x[None]).measure(wide)
    assert masked["peak_memory_kb"] == pytest.approx(mh.objectives.PeakMemory(x[None]).measure(shipped)["peak_memory_kb"])
    assert masked.extra["peak_memory_pruned"] == ["0.weight", "2.weight", "4.weight"]
    timed = mh.objectives.Latency(x, max_time_s=0.5).measure(wide)
    assert timed.extra["latency"]["pruned"] == ["0.weight", "2.weight", "4.weight"]
    assert prune.is_pruned(wide) and wide.training  # the user's model keeps its masks, and its mode
    assert torch.equal(wide[0].weight, weight_before) and wide(torch.zeros(1, 256)).shape == (1, 2)
    # timed without the masks' hooks: the module timed is the copy, whose pruning is permanent
    from moo_hpo.objectives.torch_state import as_shipped

    copy_of, names = as_shipped(wide)
    assert names == ["0.weight", "2.weight", "4.weight"] and copy_of is not wide and not prune.is_pruned(copy_of)
    assert all(not m._forward_pre_hooks for m in copy_of.modules())
    assert torch.equal(copy_of[0].weight, wide[0].weight)  # the weight the masks left


def test_a_pruned_model_that_cannot_be_copied_is_measured_with_its_masks_and_said_so(caplog):
    import threading

    model = mlp()
    prune.l1_unstructured(model[0], "weight", amount=0.5)
    model.lock = threading.Lock()  # deepcopy cannot copy it
    with caplog.at_level("WARNING", logger="moo_hpo"):
        measured = mh.objectives.PeakMemory(np.zeros((1, 64), dtype=np.float32)).measure(model)
    assert measured["peak_memory_kb"] > 0 and "peak_memory_pruned" not in measured.extra
    assert "could not be copied to measure it as it ships" in caplog.text and "prune.remove" in caplog.text


def test_a_pruned_model_with_weight_norm_and_a_cached_activation_is_measured_as_shipped():
    class Cached(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.first = torch.nn.utils.weight_norm(torch.nn.Linear(8, 32))  # its weight: computed, no graph leaf
            self.last = torch.nn.Linear(32, 2)

        def forward(self, x):
            self.hidden = torch.relu(self.first(x))  # an activation kept from the last (training) pass
            return self.last(self.hidden)

    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # torch's: weight_norm moves to parametrizations
        model = Cached()
    prune.l1_unstructured(model.last, "weight", amount=0.5)
    model(torch.zeros(4, 8)).sum().backward()
    x = np.zeros(8, dtype=np.float32)
    assert mh.objectives.PeakMemory(x[None]).measure(model).extra["peak_memory_pruned"] == ["last.weight"]
    assert mh.objectives.Latency(x, min_time_s=0.1, max_time_s=0.3).measure(model).extra["latency"]["pruned"] == ["last.weight"]
    assert prune.is_pruned(model) and model.hidden.grad_fn is not None  # the user's model as it was
