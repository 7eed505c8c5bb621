"""The paper's experiments: Fig. 1 (GD, ND, NAGD on a ReLU net), Fig. 2 (a p-homogeneous chain) and the
rotation toy of Sec. 6.1 (Figs. 3-6).

Fig. 1 and 2 used 1000 KMNIST training images. KMNIST cannot be downloaded at run time, so these presets
default to synthetic Gaussian clusters of the same shape (784 inputs, 10 classes). To use KMNIST, put
``kmnist-train-imgs.npz`` and ``kmnist-train-labels.npz`` (or the IDX files) in a folder ``kmnist``
under ``NOETHER_DATA_DIR/datasets`` and override the data: ``{"kind": "file", "name": "kmnist"}``.
"""

from __future__ import annotations

import math

from noether.presets import make

KMNIST_NOTE = (
    " The paper used 1000 KMNIST images; this preset uses synthetic data of the same shape (784 inputs,"
    " 10 classes). With KMNIST files in NOETHER_DATA_DIR/datasets/kmnist, set data to"
    ' {"kind": "file", "name": "kmnist", "samples": 1000}.'
)

FIG1_MODEL = {"widths": [784, 200, 200, 200, 10], "activation": "relu", "bias": False, "init": "kaiming_uniform"}
FIG1_DATA = {"kind": "synthetic", "samples": 1000, "separation": 4.0}

FIG1_LOOK = (
    "The chart |W_2|^2 - |W_3|^2 (law balance/h2) draws the two norms |W_2|^2 and |W_3|^2 on its left axis and their"
    " difference on its right axis (note the two scales, as in the paper's figure)."
)

fig1_gd = make(
    "fig1-gd",
    title="Fig. 1, GD: layers stay balanced",
    figure="Fig. 1 (left), Sec. 4.1, Table 2",
    explanation=(
        "A ReLU network 784-200-200-200-10 trained by gradient descent (learning rate 0.01) with the"
        " negative log-likelihood loss. ReLU is 1-homogeneous: scaling a neuron's incoming weights by"
        " lambda and its outgoing weights by 1/lambda leaves the network unchanged, and Noether's theorem"
        " turns that symmetry into a conserved quantity." + KMNIST_NOTE
    ),
    look_at=FIG1_LOOK + " Both norms move as the network trains; their difference stays put on the norms' scale and follows"
    " the dotted GD prediction exactly (about 1e-6 relative); its small drift from the dashed gradient-flow"
    " constant is GD's own, of order eta over a fixed time.",
    prediction=(
        "Under gradient flow |W_h|^2 - |W_{h+1}|^2 is exactly conserved, for every layer h and every neuron."
        " GD is its Euler discretisation: each step changes it by exactly eta^2 (|grad W_h|^2 - |grad W_{h+1}|^2),"
        " a drift of order eta over a fixed time."
    ),
    spec={"model": FIG1_MODEL, "data": FIG1_DATA, "loss": "nll", "dynamics": {"kind": "gd", "lr": 0.01},
          "steps": 1500, "record_every": 10},
    runtime="up to 3 min",
    tags=("paper", "homogeneity"),
)

fig1_nd = make(
    "fig1-nd",
    title="Fig. 1, ND: the balance is no longer conserved, but its residual law holds",
    figure="Fig. 1 (middle), Sec. 4.1, Table 2",
    explanation=(
        "The same network and data, trained by Newtonian dynamics w'' = -grad L (eq. 21: momentum without"
        " damping, learning rate 0.01, time t = k sqrt(eta)). The symmetry is the same, but the dynamics"
        " has inertia, so what is conserved changes." + KMNIST_NOTE
    ),
    look_at=(
        FIG1_LOOK + " Compare with fig1-gd: without friction the network keeps its kinetic energy (energy stays"
        " at L(w(0))), so after the loss has fallen both norms keep growing; their difference is no longer"
        " constant, but it stays small next to them, within the bound of eq. 32-34. (Run much longer and"
        " the growing weights make the step too large for the curvature: eq. 21 then goes unstable.)"
    ),
    prediction=(
        "For ND the residual <W_h, W_h''> - <W_{h+1}, W_{h+1}''> = 0 holds exactly in the flow; the balance"
        " |W_h|^2 - |W_{h+1}|^2 itself changes, with its second derivative bounded by 4 (L(w(0)) - L*)"
        " when the run starts at rest (eq. 32-34)."
    ),
    spec={"model": FIG1_MODEL, "data": FIG1_DATA, "loss": "nll", "dynamics": {"kind": "nd", "lr": 0.01},
          "steps": 300, "record_every": 3},
    runtime="up to 1 min",
    tags=("paper", "homogeneity"),
)

fig1_nag = make(
    "fig1-nag",
    title="Fig. 1, NAGD: Nesterov's method",
    figure="Fig. 1 (right), Sec. 4.1, Table 2",
    explanation=(
        "The same network and data, trained by Nesterov's accelerated gradient (eq. 20, learning rate"
        " 0.01). Its flow is w'' + (3/t) w' + grad L = 0 (NAGF): inertia with a friction that fades"
        " in time." + KMNIST_NOTE
    ),
    look_at=FIG1_LOOK + " The loss falls much faster than under GD (acceleration); the difference moves a little"
    " early on, while the velocity is large, and settles as the friction 3/t takes over.",
    prediction=(
        "For NAGF the residual <W_h, W_h'' + (3/t) W_h'> - <W_{h+1}, W_{h+1}'' + (3/t) W_{h+1}'> = 0; the"
        " balance itself is not conserved but stays bounded."
    ),
    spec={"model": FIG1_MODEL, "data": FIG1_DATA, "loss": "nll", "dynamics": {"kind": "nag", "lr": 0.01},
          "steps": 600, "record_every": 5},
    runtime="up to 4 min",
    tags=("paper", "homogeneity"),
)

fig2 = make(
    "fig2",
    title="Fig. 2: a p-homogeneous chain, factor p^k = 4",
    figure="Fig. 2, Sec. 4.2",
    explanation=(
        "A network 784-200-200-200-200-10 with sigma_1 = ReLU, sigma_2 = sigma_3 = RePU(2) (max(0,x)^2,"
        " 2-homogeneous) and sigma_4 = ReLU, trained by gradient descent. Chaining the per-layer laws"
        " |W_h|^2 - p |W_{h+1}|^2 through two 2-homogeneous layers links W_2 to W_4 with a factor"
        " p^k = 2^2 = 4." + KMNIST_NOTE
    ),
    look_at="The change of |W_2|^2 and four times the change of |W_4|^2: the two curves lie on top of each other.",
    prediction=(
        "Under gradient flow |W_2(0)|^2 - |W_2(t)|^2 = 4 (|W_4(0)|^2 - |W_4(t)|^2): deep layers of a"
        " p-homogeneous chain with p > 1 move exponentially slower than shallow ones."
    ),
    spec={
        "model": {"widths": [784, 200, 200, 200, 200, 10], "activation": ["relu", "repu(2)", "repu(2)", "relu"],
                  "init": "kaiming_uniform", "bias": False},
        "data": FIG1_DATA,
        "loss": "nll",
        "dynamics": {"kind": "gd", "lr": 0.01},
        "steps": 1000,
        "record_every": 10,
    },
    runtime="up to 3 min",
    tags=("paper", "homogeneity", "chain"),
)

TOY = {"kind": "sphere", "dim": 3, "radius": 1.0}
TOY_EXPLANATION = (
    "A single particle w in R^3 in the potential L(w) = (|w|^2 - 1)^2, a 'Mexican hat' whose minima form"
    " the unit sphere. L is invariant under every rotation of w, and the conserved quantity of that"
    " symmetry is angular momentum J = w' x w (the paper's sign, Sec. 6.1)."
)

J0 = math.sqrt(4.5)  # |J(t0)| = |w'(0) x w(0)| = |(0, 3/2, -3/2)| for the toy's start


def SPIRAL_RAD(t0: float) -> float:  # noqa: N802 (a formula, named as in the text)
    """The angle NAGF sweeps on the unit sphere from t0: int_t0^inf |J(t0)| (t0/t)^3 dt = |J(t0)| t0 / 2."""
    return J0 * t0 / 2


def SPIRAL_TURN(t0: float) -> float:  # noqa: N802
    return math.degrees(SPIRAL_RAD(t0))


toy_gf = make(
    "toy-gf",
    title="Rotation toy, gradient flow: a straight line",
    figure="Fig. 5 and Fig. 6 (right), Sec. 6.1",
    explanation=TOY_EXPLANATION + " Here it follows gradient flow (GD with a small step) from w = (0.1, 0.1, 0.1).",
    look_at="The 3D trajectory is a radial segment from near the origin to the sphere; the loss decreases monotonically.",
    prediction="Under gradient flow (w')^T w is symmetric: the angular momentum is zero, so the path is radial.",
    spec={"potential": TOY, "initial": {"position": [0.1, 0.1, 0.1]}, "dynamics": {"kind": "gd", "lr": 0.01},
          "steps": 1000, "record_every": 2, "dtype": "float64"},
    runtime="under 30 s",
    tags=("paper", "rotation", "toy"),
)

toy_nd = make(
    "toy-nd",
    title="Rotation toy, Newtonian dynamics: a planar orbit",
    figure="Fig. 3 and Fig. 6 (left), Sec. 6.1",
    explanation=TOY_EXPLANATION
    + " Here it follows Newtonian dynamics w'' = -grad L (eq. 21) from w = (0.5, 0.5, 0.5) with velocity (-2, 1, 1).",
    look_at=(
        "The orbit stays in the plane y = z, normal to J(0) = w'(0) x w(0) = (0, 3/2, -3/2) (Sec. 6.1); the"
        " loss oscillates while the energy |w'|^2/2 + L stays constant."
    ),
    prediction="ND conserves the angular momentum J = w' x w (direction and length) and the energy.",
    spec={"potential": TOY, "initial": {"position": [0.5, 0.5, 0.5], "velocity": [-2.0, 1.0, 1.0]},
          "dynamics": {"kind": "nd", "lr": 1e-4}, "steps": 2000, "record_every": 2, "dtype": "float64"},
    runtime="under 30 s",
    tags=("paper", "rotation", "toy"),
)

toy_nag = make(
    "toy-nag",
    title="Rotation toy, Nesterov: a damped spiral",
    figure="Fig. 4 and Fig. 6 (middle), Sec. 6.1",
    explanation=TOY_EXPLANATION
    + " Here it follows Nesterov's method (eq. 20) from w = (0.5, 0.5, 0.5) with velocity (-2, 1, 1),"
    " started at a small time t0 > 0 (footnote 2: NAGF cannot carry a velocity at t = 0, and a discrete"
    " run started at k = 1 would throw the velocity away).",
    look_at=(
        "The path stays in the plane y = z and settles on the unit sphere; |J| falls off as t^-3: the"
        " log-log chart of |J| against t is a straight line on the dashed slope -3, with the fitted slope"
        " beside it. With the paper's small t0 = 0.5 the friction 3/t is strong at once: the path turns"
        f" only about {SPIRAL_TURN(0.5):.0f} degrees before it settles (toy-nag-spiral starts later and turns"
        " about once)."
    ),
    prediction=(
        "NAGF: J(t) = J(t0) (t0 / t)^3 (eq. 46); the energy decreases at rate -(3/t) |w'|^2 (eq. 35). On the"
        " unit sphere the angle swept is int |J(t)| dt = |J(t0)| t0 / 2"
        f" = {J0:.2f} x 0.5 / 2 = {SPIRAL_RAD(0.5):.2f} rad ({SPIRAL_TURN(0.5):.0f} degrees)."
    ),
    spec={"potential": TOY, "initial": {"position": [0.5, 0.5, 0.5], "velocity": [-2.0, 1.0, 1.0]},
          "dynamics": {"kind": "nag", "lr": 1e-4, "t0": 0.5}, "steps": 3000, "record_every": 3, "dtype": "float64"},
    runtime="under 30 s",
    tags=("paper", "rotation", "toy"),
)

toy_nag_spiral = make(
    "toy-nag-spiral",
    title="Rotation toy, Nesterov started later: the damped spiral",
    figure="Fig. 4 (the spiral), Sec. 6.1, eq. 46",
    explanation=TOY_EXPLANATION
    + " Here it follows Nesterov's method (eq. 20) from the same w(0) and w'(0) as toy-nag, but started at"
    " t0 = 6 instead of a small delta: the friction 3/t is then 0.5 instead of 6, so the particle keeps its"
    " rotation long enough to wind once around the origin before it settles on the sphere.",
    look_at=(
        "Face-on to the orbit plane y = z the path winds about once around the origin while it spirals onto"
        " the unit sphere; the log-log chart of |J| against t is a straight line of slope -3 (dashed: the"
        " prediction; dotted: the fit, with its slope)."
    ),
    prediction=(
        "NAGF: J(t) = J(t0) (t0/t)^3 (eq. 46). On the unit sphere the angle swept is int |J(t)| dt ="
        f" |J(t0)| t0 / 2 = {J0:.2f} x 6 / 2 = {SPIRAL_RAD(6.0):.1f} rad, about {SPIRAL_TURN(6.0):.0f} degrees:"
        " one turn. The path starts inside the sphere (|w(0)| = 0.87) and swings out to |w| = 1.4, where it"
        " turns slower (angular speed |J| / |w|^2), so it sweeps a little less: about 330 degrees."
    ),
    spec={"potential": TOY, "initial": {"position": [0.5, 0.5, 0.5], "velocity": [-2.0, 1.0, 1.0]},
          "dynamics": {"kind": "nag", "lr": 1e-4, "t0": 6.0}, "steps": 3000, "record_every": 3, "dtype": "float64"},
    runtime="under 30 s",
    tags=("paper", "rotation", "toy"),
)

PRESETS = [fig1_gd, fig1_nd, fig1_nag, fig2, toy_gf, toy_nd, toy_nag, toy_nag_spiral]
