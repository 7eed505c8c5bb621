"""Adding a dynamics kind is one module and one registration: a new kind runs end to end through `noether run`.

The kind below is CONTRIBUTING.md's worked example, heavy ball with friction by semi-implicit Euler:
v_{k+1} = v_k - dt (gamma v_k + grad L(w_k)), w_{k+1} = w_k + dt v_{k+1}, t = k dt, the discretisation of
w'' + gamma w' + grad L = 0. On the rotation toy (a central force) it keeps the discrete identity
J_{k+1} = (1 - dt gamma) J_k for the angular momentum J = w x v, which the test reads from the records.
"""

from __future__ import annotations

import json
from typing import Literal, NamedTuple

import numpy as np
import pytest
import torch
from pydantic import BaseModel, ConfigDict, Field
from typer.testing import CliRunner

import noether
from noether.cli import app
from noether.dynamics import DYNAMICS, Observation, register
from noether.dynamics.base import zeros_like
from noether.dynamics.kind import DynamicsKind, constant_friction
from noether.io import read_series

# ---- the new kind: one module ------------------------------------------------------------------


class HeavyBall(BaseModel):
    """Heavy ball with friction gamma, semi-implicit Euler with step dt (the spec's ``dynamics`` section)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    kind: Literal["heavy_ball"] = "heavy_ball"
    dt: float = Field(0.01, gt=0.0, le=1.0, description="time step")
    friction: float = Field(0.5, ge=0.0, le=100.0, description="gamma")


class HeavyBallState(NamedTuple):
    params: list[torch.Tensor]  # w_k
    velocity: list[torch.Tensor]  # v_k
    k: int


def init(problem, cfg, params, velocity):
    return HeavyBallState(params, velocity if velocity is not None else zeros_like(params), 0)


def step(problem, cfg, state, batch=None):
    """v_{k+1} = (1 - dt gamma) v_k - dt grad L(w_k), w_{k+1} = w_k + dt v_{k+1}."""
    loss, grad = problem.loss_and_grad(state.params, batch)
    v = torch._foreach_mul(state.velocity, 1.0 - cfg.dt * cfg.friction)
    torch._foreach_add_(v, grad, alpha=-cfg.dt)
    w = torch._foreach_add(state.params, v, alpha=cfg.dt)
    obs = Observation(state.params, loss, grad, state.velocity, state.k * cfg.dt, cfg.dt**2)
    return HeavyBallState(w, v, state.k + 1), obs


HEAVY_BALL = DynamicsKind(
    name="heavy_ball", config=HeavyBall, init=init, step=step, flow=lambda cfg: constant_friction(cfg.friction),
    label="Heavy ball with friction", description="semi-implicit Euler for w'' + gamma w' + grad L = 0, t = k dt",
    time="k dt", order=1,
)

# ---- the registration (in noether/dynamics/__init__.py for a kind of the lab; undone after the test) -----


@pytest.fixture
def heavy_ball():
    register(HEAVY_BALL)
    yield HEAVY_BALL
    del DYNAMICS["heavy_ball"]


def test_a_registered_kind_runs_end_to_end_through_the_cli(heavy_ball, tmp_path):
    dt, gamma, steps = 0.01, 0.5, 200
    spec = {"name": "heavy ball", "potential": {"kind": "sphere", "dim": 3},
            "initial": {"position": [0.5, 0.5, 0.5], "velocity": [-2.0, 1.0, 1.0]},
            "dynamics": {"kind": "heavy_ball", "dt": dt, "friction": gamma}, "steps": steps, "record_every": 10,
            "dtype": "float64"}
    (tmp_path / "spec.json").write_text(json.dumps(spec))
    out = tmp_path / "run"
    result = CliRunner().invoke(app, ["run", str(tmp_path / "spec.json"), "--out", str(out), "--quiet"])
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "summary.json").read_text())
    assert summary["status"] == "succeeded" and summary["steps_done"] == steps
    assert json.loads((out / "spec.json").read_text())["dynamics"] == {"kind": "heavy_ball", "dt": dt, "friction": gamma}
    laws = {law["id"]: law for law in summary["laws"]}
    J = laws["angular_momentum"]
    assert J["dynamics"] == "heavy_ball (semi-implicit Euler for w'' + gamma w' + grad L = 0, t = k dt)"
    assert J["verdict"] == "holds"  # the flow's decay J(t) = J(0) exp(-gamma t), to O(dt)
    records = read_series(out / "series.parquet")
    assert [r["step"] for r in records] == list(range(0, steps + 1, 10))
    assert [r["t"] for r in records] == pytest.approx([r["step"] * dt for r in records], rel=1e-12)
    # the scheme's own exact identity J_k = (1 - dt gamma)^k J_0, with J = w x v from the recorded views
    w, v = np.array([r["position"] for r in records]), np.array([r["velocity"] for r in records])
    J_norm = np.linalg.norm(np.cross(w, v), axis=1)
    k = np.array([r["step"] for r in records])
    assert J_norm == pytest.approx(J_norm[0] * (1.0 - dt * gamma) ** k, rel=1e-10)
    assert J_norm[-1] < 0.5 * J_norm[0]


def test_an_unregistered_kind_is_refused_naming_the_known_ones():
    with pytest.raises(noether.spec.SpecError) as err:
        noether.spec.parse_spec({"potential": {"kind": "sphere", "dim": 3}, "dynamics": {"kind": "heavy_ball"}})
    assert "heavy_ball" in str(err.value) and "'nd'" in str(err.value)


def test_registering_a_taken_name_is_refused(heavy_ball):
    other = DynamicsKind(**{**vars(heavy_ball), "label": "another"})
    with pytest.raises(ValueError, match="'heavy_ball' is already registered"):
        register(other)
    assert DYNAMICS["heavy_ball"].label == "Heavy ball with friction"


def test_the_spec_schema_gives_the_form_each_kinds_label_and_description():
    """GET /api/schema/spec serves this schema; the launch form can show 'Nesterov (NAG), eq. 20' instead of 'nag'."""
    schema = noether.spec.ExperimentSpec.model_json_schema()
    mapping = schema["properties"]["dynamics"]["discriminator"]["mapping"]
    assert set(mapping) == set(noether.spec.DYNAMICS_KINDS)
    for kind, ref in mapping.items():
        node = schema["$defs"][ref.rsplit("/", 1)[-1]]
        assert node["x-label"] == DYNAMICS[kind].label
        assert node["x-description"] == DYNAMICS[kind].description.format(flow="chosen")
    assert schema["$defs"]["NAG"]["x-label"] == "Nesterov (NAG), eq. 20"
