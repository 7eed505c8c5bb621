"""Algorithm 1 end to end: the generator counts the paper predicts, found numerically, then verified in a run.

Each case is a small spec (a few seconds); verification runs are short (``verify_steps``) and GD keeps
them stable. Counts are read from the result the way a user reads it: the discovered laws per group.
"""

from __future__ import annotations

import json

import pytest

from noether.discovery import DiscoveryOptions, discover

FAST = DiscoveryOptions(verify_steps=30)


def synthetic(widths, activation, *, bias=False, loss="mse", separation=20.0, samples=200):
    """Well separated clusters with more classes than inputs: the class means span the input space, so the
    data has no rotation or independent-noise direction that would be an approximate data symmetry."""
    return {
        "model": {"widths": widths, "activation": activation, "bias": bias},
        "data": {"kind": "synthetic", "samples": samples, "inputs": widths[0], "classes": widths[-1], "separation": separation},
        "loss": loss,
        "dynamics": {"kind": "gd", "lr": 0.002},
    }


def laws_of(result, group: str, level: str = "model") -> dict[str, object]:
    return {law.kind: law for law in result.laws if law.group == group and law.level == level}


def model_generators(result) -> int:
    return sum(law.count for law in result.laws if law.kind == "residual" and law.level == "model")


def test_relu_without_bias_has_one_rescaling_per_hidden_neuron():
    result = discover(synthetic([3, 6, 5, 4], "relu"), FAST)
    assert model_generators(result) == 6 + 5
    for h, d in ((1, 6), (2, 5)):
        q = laws_of(result, f"layer {h}")["quantity"]
        assert q.count == d
        assert q.coefficients == pytest.approx({"row": 1.0, "col": -1.0}, abs=1e-6)
        assert q.matches == [f"balance/h{h}"] and not q.new
        assert q.residual < result.tolerance
    assert result.antisymmetric == 0 and result.mixed == 0
    # verified along the spec's own GD run, in the catalogue's summary form
    verdicts = {s.id: s.verdict for s in result.verification}
    assert verdicts["discovered/layer1/quantity"] == "holds"
    assert verdicts["discovered/layer2/residual"] == "holds"
    assert json.loads(result.model_dump_json())["laws"]


def test_linear_layer_gives_gl_dh_and_the_balance_matrix():
    d = 5
    result = discover(synthetic([3, d, 4], "linear"), FAST)
    layer = laws_of(result, "layer 1")
    assert layer["residual"].count == d * d
    assert layer["quantity"].count == d * (d + 1) // 2
    assert layer["charge"].count == d * (d - 1) // 2
    assert "linear_balance/h1" in layer["quantity"].matches
    assert layer["charge"].new  # the antisymmetric GL charges: implied by eq. 43, not a catalogue law
    verdicts = {s.id: s.verdict for s in result.verification}
    assert verdicts["discovered/layer1/quantity"] == "holds"
    assert verdicts["discovered/layer1/charge"] == "holds"  # under GF: w'^T A w = -<grad L, A w> = 0


def test_rotation_symmetric_inputs_give_so_dx():
    """so(d_x) is a symmetry of the data's distribution, not of a finite sample: with 15 rotated copies of
    each of 512 samples the RMS cosine of grad L with W_1 K is about 0.01-0.03 (it scales as 1/sqrt(N)),
    under the data tolerance 0.05, and consistent with sampling noise (z < 3)."""
    spec = {
        "model": {"widths": [3, 8, 1], "activation": "relu"},
        "data": {"kind": "rotation", "dim": 3, "samples": 512, "augment": 15},
        "loss": "mse",
        "dynamics": {"kind": "gd", "lr": 0.005},
    }
    result = discover(spec, FAST)
    data = laws_of(result, "inputs", "data")
    assert data["charge"].count == 3 * 2 // 2
    assert data["charge"].matches == ["angular_momentum"]
    assert "quantity" not in data
    assert data["charge"].residual <= result.data_tolerance
    assert data["charge"].zscore is not None and data["charge"].zscore <= result.z_max
    assert laws_of(result, "layer 1")["quantity"].count == 8


def test_gelu_everywhere_has_no_generator():
    """No symmetry of the model: nothing at the model level, with a clear spectral gap. (The data stage may
    still report approximate symmetries of the data set at large pre-activations, where GELU is nearly ReLU:
    those are tagged level 'data' and are not counted here.)"""
    result = discover(synthetic([3, 6, 5, 4], "gelu", bias=True), FAST)
    assert model_generators(result) == 0
    assert not [law for law in result.laws if law.level == "model"]
    assert result.gap["model"] > 10 * result.tolerance  # a clear spectral gap (exact ones sit near 1e-14)


@pytest.mark.parametrize(
    ("activation", "bias", "expected"),
    [
        ("relu", True, {"row": 1.0, "bias": 1.0, "col": -1.0}),  # Table 3: the bias joins the row
        ("repu(2)", False, {"row": 1.0, "col": -2.0}),  # Table 2: p-homogeneous
        ("swish", False, {"row": 1.0, "beta": -1.0, "col": -1.0}),  # Table 2: trainable beta gets -1
        ("swish", True, {"row": 1.0, "bias": 1.0, "beta": -1.0, "col": -1.0}),  # Table 3
    ],
)
def test_biases_and_swish_beta_change_the_coefficients(activation, bias, expected):
    result = discover(synthetic([3, 6, 4], activation, bias=bias), DiscoveryOptions(verify=False))
    q = laws_of(result, "layer 1")["quantity"]
    assert q.count == 6
    assert q.coefficients == pytest.approx(expected, abs=1e-6)
    assert q.coefficient_spread < 1e-6
    assert q.matches == ["balance/h1"]


def test_fixed_swish_beta_has_no_rescaling():
    result = discover(synthetic([3, 6, 4], "swish(1, fixed)"), DiscoveryOptions(verify=False))
    assert "layer 1" not in {law.group for law in result.laws}


def test_sphere_potential_gives_so3_and_angular_momentum():
    spec = {
        "potential": {"kind": "sphere", "dim": 3},
        "initial": {"position": [0.5, 0.5, 0.5], "velocity": [-2.0, 1.0, 1.0]},
        "dynamics": {"kind": "nd", "lr": 0.001},
        "steps": 200,
    }
    result = discover(spec, DiscoveryOptions(verify_steps=200))
    assert (result.generators, result.antisymmetric, result.symmetric) == (3, 3, 0)
    charge = laws_of(result, "potential", "potential")["charge"]
    assert charge.matches == ["angular_momentum"] and charge.count == 3
    summary = {s.id: s for s in result.verification}["discovered/potential/charge"]
    assert summary.verdict == "holds" and summary.prediction == "conserved"
    blocks = [b for b in result.blocks if b.parity == "antisymmetric"]
    assert len(blocks) == 3 and all(len(b.matrix) == 3 for b in blocks)


def test_quadratic_potential_has_its_metric_rotations():
    """L = w^T Lambda w / 2 is invariant under every A with Lambda A antisymmetric (the rotations of the metric
    Lambda, d(d-1)/2 of them). Only those that are antisymmetric themselves, rotations inside an eigenspace
    (here the (w_1, w_2) plane), give a conserved ND charge; the others give residual laws only."""
    spec = {"potential": {"kind": "quadratic", "eigenvalues": [1.0, 1.0, 2.0]}, "dynamics": {"kind": "nd", "lr": 0.01}}
    result = discover(spec, DiscoveryOptions(verify=False))
    assert (result.generators, result.antisymmetric, result.mixed) == (3, 1, 2)
    charge = laws_of(result, "potential", "potential")["charge"]
    assert charge.new and charge.matches == []  # the catalogue's angular momentum needs equal eigenvalues
    assert not result.closed_under_transposition


def test_softmax_shift_is_found_and_named_after_the_catalogues_translation_law():
    """NLL ignores a common shift of the logits: W_K -> (I + e 1 c^T) W_K, d_y generators, not closed under
    transposition; its one symmetric combination 1 1^T gives the GF quantity |1^T W_K|^2 / 2 = |s|^2 / 2, the
    square of the catalogue's translation law (noether.laws.translation): named after it, not flagged new."""
    result = discover(synthetic([3, 6, 4], "relu", loss="nll"), FAST)
    out = laws_of(result, "outputs")
    assert out["residual"].count == 4
    assert out["quantity"].count == 1 and out["quantity"].matches == ["translation"] and not out["quantity"].new
    assert "translation of the last layer" in out["quantity"].symmetry and "|s|^2 / 2" in out["quantity"].name
    assert not result.closed_under_transposition
    assert {s.id: s.verdict for s in result.verification}["discovered/outputs/quantity"] == "holds"
    # measured as 1 1^T alone: the quantity is the square of the catalogue's |s| over 2, in the same run
    quantity = {s.id: s for s in result.verification}["discovered/outputs/quantity"]
    translation = {s.id: s for s in result.catalogue}["translation"]
    assert quantity.initial == pytest.approx(translation.initial ** 2 / 2, rel=1e-9)
