from __future__ import annotations

import math

import pytest
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.datasets import load_iris

import moo_hpo as mh
from moo_hpo.objectives.size import parameter_count


def mlp():
    return torch.nn.Sequential(torch.nn.Linear(10, 32), torch.nn.ReLU(), torch.nn.Linear(32, 3))


def cnn():
    return torch.nn.Sequential(
        torch.nn.Conv2d(1, 8, 3), torch.nn.BatchNorm2d(8), torch.nn.ReLU(), torch.nn.Flatten(), torch.nn.Linear(8 * 6 * 6, 10)
    )


def test_parameter_counts_match_analytic_values():
    assert parameter_count(mlp()) == (10 * 32 + 32) + (32 * 3 + 3)
    assert parameter_count(cnn()) == (1 * 8 * 9 + 8) + (8 + 8) + (288 * 10 + 10)
    X, y = load_iris(return_X_y=True)
    assert parameter_count(LogisticRegression(max_iter=500).fit(X, y)) == 3 * 4 + 3


def test_sizes_at_precisions():
    m = mh.objectives.ModelSize(precisions=["fp16", "int8"]).measure(mlp())
    n = 451
    assert m["param_count"] == n
    assert m["size_kb"] == pytest.approx(n * 4 / 1024)
    assert m["size_kb_fp16"] == pytest.approx(n * 2 / 1024)
    # at an integer precision the weights take a byte, the biases 4 (int32 or fp32 as integer deployments keep them)
    weights, biases = 10 * 32 + 32 * 3, 32 + 3
    assert m["size_kb_int8"] == pytest.approx((weights + 4 * biases) / 1024)
    assert m["serialized_kb"] > m["size_kb"]  # state_dict carries names and headers
    with_buffers = mh.objectives.ModelSize(precisions=["fp32", "int8"]).measure(cnn())
    buffers = (8 + 8) * 4 + 8  # BN running mean and variance (fp32), num_batches_tracked (int64)
    assert with_buffers["size_kb"] == pytest.approx((2986 * 4 + buffers) / 1024)
    # at a precision: the parameters at it, the buffers as stored; fp32 is then the stored size (it left them out)
    assert with_buffers["size_kb_fp32"] == pytest.approx(with_buffers["size_kb"])
    lstm = mh.objectives.ModelSize(precisions=["int8"]).measure(torch.nn.LSTM(4, 8))  # bias_ih_l0, bias_hh_l0: biases too
    assert lstm["size_kb_int8"] == pytest.approx((4 * 32 + 8 * 32 + 4 * 64) / 1024)
    biases = 8 + 8 + 10  # the convolution's, BatchNorm's and the linear layer's
    assert with_buffers["size_kb_int8"] == pytest.approx((2986 - biases + 4 * biases + buffers) / 1024)
    declared = cnn()
    declared.moo_hpo_precision = "int8"
    assert mh.objectives.ModelSize().measure(declared)["size_kb"] == pytest.approx(with_buffers["size_kb_int8"])


def test_declared_deployment_precision():
    model = mlp()
    model.moo_hpo_precision = "int8"
    assert mh.objectives.ModelSize().measure(model)["size_kb"] == pytest.approx((416 + 4 * 35) / 1024)
    model.moo_hpo_precision = "fp16"  # a float precision: biases too
    assert mh.objectives.ModelSize().measure(model)["size_kb"] == pytest.approx(451 * 2 / 1024)
    from sklearn.neural_network import MLPClassifier

    X, y = load_iris(return_X_y=True)
    net = MLPClassifier(hidden_layer_sizes=(5,), max_iter=3000, random_state=0).fit(X, y)  # 4*5 + 5*3 weights, 5 + 3 biases
    net.moo_hpo_precision = "int8"
    assert mh.objectives.ModelSize().measure(net)["size_kb"] == pytest.approx((35 + 4 * 8) / 1024)
    model.moo_hpo_precision = "int3"
    with pytest.raises(mh.ProbeError, match="moo_hpo_precision"):
        mh.objectives.ModelSize().measure(model)


def test_sklearn_size_uses_pickle():
    X, y = load_iris(return_X_y=True)
    m = mh.objectives.ModelSize().measure(LogisticRegression(max_iter=500).fit(X, y))
    assert m["param_count"] == 15 and m["serialized_kb"] > 0


def test_a_model_sized_by_its_pickle_has_no_size_at_another_precision():
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X, y = load_iris(return_X_y=True)
    pipeline = make_pipeline(StandardScaler(), LogisticRegression(max_iter=500)).fit(X, y)
    plain = mh.objectives.ModelSize().measure(pipeline)
    assert "param_count" not in plain and plain["size_kb"] == plain["serialized_kb"]
    # no size at another precision: NaN, with the reason (a study that needs it fails the trial on a NaN, not on a
    # "missing metric" that looked like a typo; one that does not keeps the trial)
    m = mh.objectives.ModelSize(precisions=["int8"]).measure(pipeline)
    assert math.isnan(m["size_kb_int8"]) and m["size_kb"] == plain["size_kb"]
    assert m.extra["size"]["precisions"].startswith("none: Pipeline is sized by its pickle")


def test_only_saved_buffers_count():
    model = torch.nn.Linear(16, 16)
    model.register_buffer("mask", torch.tril(torch.ones(256, 256)), persistent=False)  # rebuilt at load, not shipped
    model.register_buffer("scale", torch.ones(4))
    model.moo_hpo_precision = "int8"
    m = mh.objectives.ModelSize(precisions=["fp32"]).measure(model)
    assert m["size_kb"] == pytest.approx((256 + 16 * 4 + 16) / 1024) and m["size_kb_fp32"] == pytest.approx((272 * 4 + 16) / 1024)


def test_a_kernel_model_is_counted_by_its_support_vectors_and_dual_coefficients():
    from sklearn.svm import SVC

    X, y = load_iris(return_X_y=True)
    svc = SVC().fit(X, y)
    m = mh.objectives.ModelSize().measure(svc)
    assert m["param_count"] == svc.support_vectors_.size + svc.dual_coef_.size + svc.intercept_.size  # not the intercepts alone
    assert m["size_kb"] == pytest.approx(m["param_count"] * 8 / 1024)
    linear = SVC(kernel="linear").fit(X, y)  # its coef_ derives from the support vectors: not counted twice
    assert mh.objectives.ModelSize().measure(linear)["param_count"] == (
        linear.support_vectors_.size + linear.dual_coef_.size + linear.intercept_.size)


def test_peak_memory_cpu_estimate():
    model = mlp()
    m = mh.objectives.PeakMemory(torch.zeros(64, 10)).measure(model)
    params = 451 * 4
    largest = 2 * 64 * 32 * 4  # the ReLU: 64 x 32 floats in and 64 x 32 out
    assert m["peak_memory_kb"] == pytest.approx((params + largest) / 1024)
    assert "cpu estimate" in m.extra["peak_memory_method"]
    model.moo_hpo_precision = "int8"  # deployed at int8, as size_kb counts it: the weights at one byte, biases at 4
    m8 = mh.objectives.PeakMemory(torch.zeros(64, 10)).measure(model)
    assert m8["peak_memory_kb"] == pytest.approx((416 + 4 * 35 + largest) / 1024) and m8.extra["peak_memory_precision"] == "int8"
    assert m8["peak_memory_kb"] < m["peak_memory_kb"]
    quantized = torch.ao.quantization.quantize_dynamic(mlp(), {torch.nn.Linear}, dtype=torch.qint8)
    quantized.moo_hpo_precision = "int8"  # already at it: counted as it stores its weights
    mq = mh.objectives.PeakMemory(torch.zeros(64, 10)).measure(quantized)
    assert mq.extra["peak_memory_precision"] == "as stored (a quantized model)"
    model.moo_hpo_precision = "fp8"
    with pytest.raises(mh.ProbeError, match=r"moo_hpo_precision must be one of .*received 'fp8'"):
        mh.objectives.PeakMemory(torch.zeros(64, 10)).measure(model)


def test_peak_memory_of_weights_run_from_flash_counts_the_activations_alone():
    # a microcontroller keeps its weights in flash (size_kb's budget): RAM was charged for them too, and models that
    # fit were skipped under a RAM budget
    model = mlp()
    model.moo_hpo_precision = "int8"
    m = mh.objectives.PeakMemory(torch.zeros(64, 10), weights="flash").measure(model)
    assert m["peak_memory_kb"] == pytest.approx(2 * 64 * 32 * 4 / 1024)  # the ReLU's input and output, no weight
    assert m.extra["peak_memory_method"].endswith("(weights and buffers in flash, not counted)")
    assert "peak_memory_precision" not in m.extra and "parameters" not in m.extra["peak_memory_method"]
    quantized = torch.ao.quantization.quantize_dynamic(mlp(), {torch.nn.Linear}, dtype=torch.qint8)
    mq = mh.objectives.PeakMemory(torch.zeros(64, 10), weights="flash").measure(quantized)
    assert mq["peak_memory_kb"] == pytest.approx(2 * 64 * 32 * 4 / 1024)  # its packed weights not counted either
    with pytest.raises(mh.ConfigError, match=r"weights must be 'ram' \(counted\) or 'flash' .*received 'rom'"):
        mh.objectives.PeakMemory(torch.zeros(1, 10), weights="rom")


def test_unknown_precision_rejected():
    with pytest.raises(mh.ConfigError, match="unknown precision"):
        mh.objectives.ModelSize(precisions=["fp8"])


def test_model_size_refuses_what_is_not_a_model():
    for not_a_model in (None, {"w": 1}, [1, 2], 3.0):
        with pytest.raises(mh.ProbeError, match="instead of a model|expected a model"):
            mh.objectives.ModelSize().measure(not_a_model)
    with pytest.raises(mh.ProbeError, match="pickling it raised"):
        mh.objectives.ModelSize().measure(lambda x: x)


def test_one_precision_is_a_name_not_letters():
    probe = mh.objectives.ModelSize(precisions="fp16")
    assert probe.precisions == ("fp16",) and "size_kb_fp16" in probe.metrics


def test_peak_memory_names_a_forward_pass_that_fails():
    with pytest.raises(mh.ProbeError, match=r"forward pass of Linear on the example of shape \(2, 5\)"):
        mh.objectives.PeakMemory(torch.zeros(2, 5)).measure(torch.nn.Linear(3, 1))
    # one sample without its batch dimension, as Latency takes it: the error says what PeakMemory takes
    with pytest.raises(mh.ProbeError, match=r"PeakMemory's example is a batch, such as X\[:1\], where Latency's is one sample"):
        mh.objectives.PeakMemory(torch.zeros(1, 6, 6)).measure(cnn())


def test_peak_memory_hands_the_module_back_in_its_mode():
    model = cnn()
    model.train()
    mh.objectives.PeakMemory(torch.zeros(1, 1, 8, 8)).measure(model)
    assert all(m.training for m in model.modules())  # before, it was left in eval mode (dropout, batch norm off)


def test_a_search_mixing_model_types_keeps_the_pickle_sized_trials():
    from sklearn.neighbors import KNeighborsClassifier

    X, y = load_iris(return_X_y=True)
    space = mh.Space({"kind": mh.Categorical(["knn", "lr"])})
    build = lambda c: KNeighborsClassifier() if c["kind"] == "knn" else LogisticRegression(max_iter=500)  # noqa: E731
    probes = [mh.objectives.ModelSize(precisions=["int8"]), mh.objectives.Accuracy(X, y)]
    study = mh.Study(space, [mh.Maximize("accuracy"), mh.Minimize("size_kb")], optimizer="random", seed=0)
    study.optimize(lambda model, config: model.fit(X, y), build=build, probes=probes, n_trials=6, show_progress=False)
    kinds = {t.config["kind"]: t for t in study.trials}
    assert set(kinds) == {"knn", "lr"} and all(t.status is mh.TrialStatus.COMPLETE for t in study.trials)
    assert "size_kb_int8" not in kinds["knn"].metrics and kinds["lr"].metrics["size_kb_int8"] == pytest.approx((12 + 4 * 3) / 1024)
    needs = mh.Study(space, [mh.Maximize("accuracy"), mh.Minimize("size_kb_int8")], optimizer="random", seed=0)
    needs.optimize(lambda model, config: model.fit(X, y), build=build, probes=probes, n_trials=6, show_progress=False)
    for t in needs.trials:  # where the study needs it, the pickle-sized trial fails on the NaN
        if t.config["kind"] == "knn":
            assert t.status is mh.TrialStatus.FAILED and "metric 'size_kb_int8' is nan" in t.error
        else:
            assert t.status is mh.TrialStatus.COMPLETE


def test_a_declared_precision_is_not_applied_to_a_model_already_quantized():
    # quantize_dynamic copies the module with its attributes: moo_hpo_precision = "int8" set when it was built counted
    # the quantized copy's fp32 biases at one byte
    import torch.ao.quantization as tq

    model = torch.nn.Sequential(torch.nn.Linear(64, 64), torch.nn.ReLU(), torch.nn.Linear(64, 8))
    plain = mh.objectives.ModelSize().measure(tq.quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8))
    model.moo_hpo_precision = "int8"
    quantized = tq.quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8)
    assert quantized.moo_hpo_precision == "int8"
    measured = mh.objectives.ModelSize().measure(quantized)
    assert measured["size_kb"] == pytest.approx(plain["size_kb"])
    assert "not applied: the model is quantized" in measured.extra["size"]["deployed_precision"]


def test_peak_memory_counts_a_quantized_model_s_packed_weights():
    # quantize_dynamic keeps its weights packed, outside parameters(): the CPU estimate counted activations only
    import torch.ao.quantization as tq

    model = torch.nn.Sequential(torch.nn.Linear(256, 256), torch.nn.ReLU(), torch.nn.Linear(256, 8))
    quantized = tq.quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8)
    x = torch.zeros(1, 256)
    peak = mh.objectives.PeakMemory(x).measure(quantized)["peak_memory_kb"]
    stored = mh.objectives.ModelSize().measure(quantized)["size_kb"]
    assert peak >= stored > 60  # 256 x 256 int8 weights alone are 64 KB


def test_a_scikit_learn_model_is_sized_at_its_arrays_dtypes_and_a_sparse_one_with_its_indices():
    # an MLP fitted on float32 data keeps float32 coefficients: it was counted at 8 bytes each (twice its size); a
    # sparsified linear model was counted by its stored values alone, without their indices, and fewer parameters
    import numpy as np
    from sklearn.datasets import load_digits
    from sklearn.linear_model import SGDClassifier
    from sklearn.neural_network import MLPClassifier

    X, y = load_digits(return_X_y=True)
    X32 = (X / 16).astype(np.float32)
    mlp = MLPClassifier((32,), max_iter=5, random_state=0).fit(X32, y)
    m = mh.objectives.ModelSize().measure(mlp)
    arrays = mlp.coefs_ + mlp.intercepts_
    assert arrays[0].dtype == np.float32 and m["size_kb"] == pytest.approx(sum(a.nbytes for a in arrays) / 1024)
    sgd = SGDClassifier(penalty="l1", alpha=0.01, random_state=0, max_iter=20, tol=None).fit(X / 16, y)
    dense = mh.objectives.ModelSize().measure(sgd)
    sgd.sparsify()
    sparse = mh.objectives.ModelSize().measure(sgd)
    coef = sgd.coef_
    assert sparse["param_count"] == dense["param_count"] == 650  # the same parameters, stored another way
    assert sparse["size_kb"] * 1024 == coef.data.nbytes + coef.indices.nbytes + coef.indptr.nbytes + sgd.intercept_.nbytes
    assert sparse["param_count_nonzero"] == coef.nnz + np.count_nonzero(sgd.intercept_)
    import scipy.sparse

    sgd.coef_ = scipy.sparse.coo_matrix(coef)  # another sparse format: its values and both index arrays
    coo = mh.objectives.ModelSize().measure(sgd)
    stored = sgd.coef_.data.nbytes + sgd.coef_.row.nbytes + sgd.coef_.col.nbytes + sgd.intercept_.nbytes
    assert coo["param_count"] == 650 and coo["size_kb"] * 1024 == stored
    # at another precision: the values it stores at that precision, the indices as stored (every dense entry counted)
    int8 = mh.objectives.ModelSize(precisions=["int8"]).measure(sgd)["size_kb_int8"]
    assert int8 * 1024 == coef.nnz + sgd.coef_.row.nbytes + sgd.coef_.col.nbytes + 4 * sgd.intercept_.size
    sgd.moo_hpo_precision = "int8"
    assert mh.objectives.ModelSize().measure(sgd)["size_kb"] == int8


def test_peak_memory_counts_the_layers_whose_weights_sit_in_child_modules():
    # a dynamically quantized LSTM keeps its weights in child modules, attention its out_proj: neither was hooked, and
    # their activations were left out (a RAM budget passed models that do not fit)
    class Recurrent(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.lstm, self.fc = torch.nn.LSTM(8, 64, batch_first=True), torch.nn.Linear(64, 3)

        def forward(self, x):
            return self.fc(self.lstm(x)[0][:, -1])

    x = torch.zeros(1, 50, 8)
    lstm_in_out = (50 * 8 + 50 * 64) * 4 / 1024  # the LSTM's input and output at least
    for model in (Recurrent(), torch.ao.quantization.quantize_dynamic(Recurrent(), {torch.nn.LSTM, torch.nn.Linear},
                                                                      dtype=torch.qint8)):
        peak = mh.objectives.PeakMemory(x).measure(model)["peak_memory_kb"]
        assert peak - mh.objectives.ModelSize().measure(model)["size_kb"] >= lstm_in_out

    class Attention(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.mha, self.fc = torch.nn.MultiheadAttention(32, 4, batch_first=True), torch.nn.Linear(32, 2)

        def forward(self, x):
            return self.fc(self.mha(x, x, x)[0].mean(1))

    model, x = Attention().eval(), torch.zeros(1, 200, 32)
    activations = mh.objectives.PeakMemory(x).measure(model)["peak_memory_kb"] - mh.objectives.ModelSize().measure(model)["size_kb"]
    tensor, scores = 200 * 32 * 4 / 1024, 200 * 200 * 4 / 1024
    assert activations >= 2 * tensor + scores  # its input (once, given as query, key and value), output and weights
    # the fused fast path computes each head's scores inside: counted as the same attention written out is, at its
    # softmax (the 4 heads' scores and probabilities, and v)
    assert activations == pytest.approx(2 * 4 * scores + tensor)
    Attention.forward = lambda self, x: self.fc(self.mha(query=x, key=x, value=x)[0].mean(1))  # by keyword: left out
    keyword = mh.objectives.PeakMemory(x).measure(model)["peak_memory_kb"] - mh.objectives.ModelSize().measure(model)["size_kb"]
    assert keyword == pytest.approx(activations)
    # a weight's parametrization runs modules when the layer reads its weight: the Linear is a layer all the same
    normed = torch.nn.Sequential(torch.nn.utils.parametrizations.weight_norm(torch.nn.Linear(8, 4096)),
                                 torch.nn.utils.parametrizations.weight_norm(torch.nn.Linear(4096, 2)))
    x = torch.zeros(1, 100, 8)
    peak = mh.objectives.PeakMemory(x).measure(normed)["peak_memory_kb"]
    assert peak - mh.objectives.ModelSize().measure(normed)["size_kb"] >= 100 * (8 + 4096) * 4 / 1024


def test_peak_memory_counts_work_a_module_does_in_its_own_forward():
    # h.T @ h ran in the parent's forward, beside its children's calls: in no layer, so its 1 MB result was left out
    class Gram(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.fc, self.out = torch.nn.Linear(64, 512), torch.nn.Linear(512, 2)

        def forward(self, x):
            h = self.fc(x)
            return self.out(h @ (h.T @ h))

    model, x = Gram(), torch.zeros(8, 64)
    measured = mh.objectives.PeakMemory(x).measure(model)
    activations = measured["peak_memory_kb"] - mh.objectives.ModelSize().measure(model)["size_kb"]
    gram, h = 512 * 512 * 4 / 1024, 8 * 512 * 4 / 1024
    assert activations == pytest.approx(gram + 2 * h)  # the largest operation: h @ gram, its inputs and its output
    assert "layer or operation" in measured.extra["peak_memory_method"]

    functional = torch.nn.Sequential(torch.nn.Linear(64, 16))  # weights read by F.linear are not activations
    alone = mh.objectives.PeakMemory(x).measure(functional)["peak_memory_kb"] - mh.objectives.ModelSize().measure(functional)["size_kb"]
    assert alone == pytest.approx((8 * 64 + 8 * 16) * 4 / 1024)


def test_peak_memory_of_a_model_that_cannot_run_traced_is_its_layers_and_says_so():
    from torch.utils._python_dispatch import _get_current_dispatch_mode

    class Untraceable(torch.nn.Module):  # as a model whose operations the dispatch tracing does not support
        def __init__(self):
            super().__init__()
            self.fc = torch.nn.Linear(64, 16)

        def forward(self, x):
            if _get_current_dispatch_mode() is not None:
                raise RuntimeError("not under a dispatch mode")
            return self.fc(x)

    measured = mh.objectives.PeakMemory(torch.zeros(8, 64)).measure(Untraceable())
    activations = measured["peak_memory_kb"] - mh.objectives.ModelSize().measure(Untraceable())["size_kb"]
    assert activations == pytest.approx((8 * 64 + 8 * 16) * 4 / 1024)
    assert "could not be traced: not under a dispatch mode" in measured.extra["peak_memory_method"]


def test_peak_memory_of_an_example_sliced_from_a_dataset_tensor_counts_the_slice():
    # the operations were sized by their storage: X[:1] of a 2,000-row tensor counted all 2,000 rows
    X = torch.zeros(2000, 64)
    model = torch.nn.Sequential(torch.nn.Linear(64, 16))
    sliced = mh.objectives.PeakMemory(X[:1]).measure(model)["peak_memory_kb"]
    assert sliced == pytest.approx(mh.objectives.PeakMemory(X[:1].clone()).measure(model)["peak_memory_kb"])
    assert sliced - mh.objectives.ModelSize().measure(model)["size_kb"] == pytest.approx((64 + 16) * 4 / 1024)


def test_peak_memory_counts_a_broadcast_view_by_the_memory_it_repeats():
    # an expanded view (stride 0) was counted at all of its elements: 8 MB for 2 KB of memory
    class Broadcast(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = torch.nn.Linear(16, 16)

        def forward(self, x):
            h = self.fc(x)
            return h.unsqueeze(1).expand(-1, 4096, -1).mean(1)

    model, x = Broadcast(), torch.zeros(32, 16)
    activations = mh.objectives.PeakMemory(x).measure(model)["peak_memory_kb"] - mh.objectives.ModelSize().measure(model)["size_kb"]
    assert activations == pytest.approx(2 * 32 * 16 * 4 / 1024)  # the Linear's input and output; the mean's are no larger


def _activations(model, x) -> float:
    return mh.objectives.PeakMemory(x).measure(model)["peak_memory_kb"] - mh.objectives.ModelSize().measure(model)["size_kb"]


def test_peak_memory_counts_a_reshaping_layer_s_output_once_and_a_weight_given_to_a_layer_not_at_all():
    # nn.Flatten's output, a view of its input, was counted again (a model that fits was skipped under a RAM budget),
    # and a mask buffer passed to attention was counted with the buffers and again as an activation
    conv = torch.nn.Conv2d(1, 16, 3, padding=1)
    x = torch.zeros(1, 1, 28, 28)
    flat = torch.nn.Sequential(conv, torch.nn.ReLU(inplace=True), torch.nn.Flatten(), torch.nn.Linear(16 * 28 * 28, 10))
    assert _activations(flat, x) == pytest.approx((28 * 28 + 16 * 28 * 28) * 4 / 1024)  # the conv's input and output

    class TableLookup(torch.nn.Module):  # a layer applied to a parameter: the parameter counts once, as a weight
        def __init__(self):
            super().__init__()
            self.table, self.act = torch.nn.Parameter(torch.zeros(256, 256)), torch.nn.Tanh()

        def forward(self, x):
            return x @ self.act(self.table)

    table = TableLookup()
    assert _activations(table, torch.zeros(4, 256)) == pytest.approx((256 * 256 + 2 * 4 * 256) * 4 / 1024)  # tanh out, x, x @ it


def test_peak_memory_counts_fused_attention_as_the_same_attention_written_out():
    # F.scaled_dot_product_attention computes its L x L scores inside: 3-4 times less than the same maths by hand
    import torch.nn.functional as F

    L, D = 128, 16

    class Fused(torch.nn.Module):
        def forward(self, x):
            return F.scaled_dot_product_attention(x, x, x)

    class ByHand(torch.nn.Module):
        def forward(self, x):
            return torch.softmax(x @ x.transpose(-2, -1) / D ** 0.5, dim=-1) @ x

    x = torch.zeros(1, L, D)
    scores = L * L * 4 / 1024
    assert _activations(ByHand(), x) == pytest.approx(2 * scores)  # the softmax's scores and probabilities
    assert _activations(Fused(), x) >= 2 * scores


def test_sparse_weights_count_what_they_store():
    # a sparse COO parameter crashed ModelSize and PeakMemory (count_nonzero has no sparse kernel); a CSR buffer
    # counted at its dense size
    w = torch.zeros(10, 784)
    w[:, :100] = 1.0
    w[0, 100:103] = 1.0  # 1,003 stored values

    class SparseLinear(torch.nn.Module):
        def __init__(self, layout):
            super().__init__()
            if layout == "coo":
                self.w = torch.nn.Parameter(w.to_sparse())
            else:
                self.register_buffer("w", w.to_sparse_csr())

        def forward(self, x):
            return torch.sparse.mm(self.w, x.T).T if self.w.layout == torch.sparse_coo else (self.w @ x.T).T

    x = torch.zeros(1, 784)
    coo = SparseLinear("coo")
    sized = mh.objectives.ModelSize().measure(coo)
    assert sized["param_count"] == 7840 and sized["param_count_nonzero"] == 1003
    assert sized["size_kb"] == pytest.approx((1003 * 4 + 2 * 1003 * 8) / 1024)  # values and their (row, column) indices
    assert mh.objectives.PeakMemory(x).measure(coo)["peak_memory_kb"] >= sized["size_kb"]
    sparse_bias = torch.nn.Linear(4, 1000)
    sparse_bias.bias = torch.nn.Parameter(torch.zeros(1000).index_fill(0, torch.tensor([3]), 1.0).to_sparse())
    dense_weight = 4000 * 1 + 4 + 8  # int8 weights; the one stored bias value at 4 bytes, its index
    assert mh.objectives.ModelSize(precisions=["int8"]).measure(sparse_bias)["size_kb_int8"] == pytest.approx(dense_weight / 1024)
    at_int8 = mh.objectives.ModelSize(precisions=["int8"]).measure(coo)["size_kb_int8"]
    assert at_int8 == pytest.approx((1003 * 1 + 2 * 1003 * 8) / 1024)  # its values at one byte, its indices as they are
    coo.moo_hpo_precision = "int8"
    assert mh.objectives.ModelSize().measure(coo)["size_kb"] == pytest.approx(at_int8)
    assert mh.objectives.PeakMemory(x).measure(coo)["peak_memory_kb"] == pytest.approx(at_int8 + (784 + 10) * 4 / 1024)
    csr = SparseLinear("csr")
    stored = (1003 * 4 + 1003 * 8 + 11 * 8) / 1024  # values, column indices, row offsets
    assert mh.objectives.ModelSize().measure(csr)["size_kb"] == pytest.approx(stored)
    assert mh.objectives.PeakMemory(x).measure(csr)["peak_memory_kb"] == pytest.approx(stored + (784 + 10) * 4 / 1024)


def test_peak_memory_traces_nested_tensors_and_counts_both_halves_of_one_storage():
    # a padding mask made nested tensors inside a transformer: the tracing stopped (layers only); two halves of one
    # tensor given to a layer counted as one
    class Encoder(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.emb = torch.nn.Embedding(100, 32)
            self.enc = torch.nn.TransformerEncoder(torch.nn.TransformerEncoderLayer(32, 4, 64, batch_first=True), 1,
                                                   enable_nested_tensor=True)

        def forward(self, ids):
            return self.enc(self.emb(ids), src_key_padding_mask=ids == 0)

    ids = torch.randint(1, 100, (2, 64))
    ids[0, 40:] = 0
    measured = mh.objectives.PeakMemory(ids).measure(Encoder().eval())
    assert measured.extra["peak_memory_method"].endswith("largest layer or operation input+output")  # traced

    class Add(torch.nn.Module):
        def forward(self, a, b):
            return a + b

    class Halves(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.fc, self.add = torch.nn.Linear(8, 2 * 1024, bias=False), Add()

        def forward(self, x):
            return self.add(*self.fc(x).view(1, 2, 1024).unbind(1))

    assert _activations(Halves(), torch.zeros(1, 8)) == pytest.approx(3 * 1024 * 4 / 1024)  # both halves, the sum


def test_peak_memory_counts_a_padded_transformer_s_scores_and_views_of_a_meta_tensor_once():
    # a padding mask makes the attention's inputs nested tensors: their scores were left out (4 MB of 4.2)
    layer = torch.nn.TransformerEncoderLayer(32, 4, 64, batch_first=True)
    encoder = torch.nn.TransformerEncoder(layer, 1, enable_nested_tensor=True).eval()
    x, mask = torch.zeros(2, 128, 32), torch.zeros(2, 128, dtype=torch.bool)
    mask[1, 64:] = True

    class Masked(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.encoder = encoder

        def forward(self, x):
            return self.encoder(x, src_key_padding_mask=mask)

    scores = 4 * (128 * 128 + 64 * 64) * 4 / 1024  # 4 heads, over each sequence's own length
    assert _activations(Masked(), x) >= 2 * scores

    from moo_hpo.objectives.op_memory import working_set

    h = torch.empty(100, 10, device="meta")
    assert working_set((h, h.T), set()) == 4000  # h.T is h
