"""Presets for the rest of the catalogue: biases (Table 3), Swish with trainable beta, linear networks
(Table 4), rotation-symmetric data on a network (Table 5, Sec. 6.2), the NTK width sweep (Sec. 7),
GD against SGD (Sec. 8), and two laws of Kunin et al. (2021) beyond the paper: the translation of a
softmax output and the scale invariance before a BatchNorm. They use scikit-learn's digits or rotation data, so they are small and fast.
"""

from __future__ import annotations

from noether.presets import make

DIGITS = {"kind": "digits", "samples": 500}

bias = make(
    "bias",
    title="Biases join the balance (Table 3)",
    figure="Table 3, Sec. 4.4",
    explanation=(
        "A ReLU network 64-32-32-10 with biases, trained by gradient descent on scikit-learn's 8x8 digits."
        " The rescaling symmetry of a ReLU neuron scales its bias together with its incoming weights, so"
        " the bias enters the conserved quantity."
    ),
    look_at=(
        "balance/h1 and balance/h2 (which include |b_h|^2) stay nearly flat while the norms of W_h and b_h"
        " move a lot (two axes), and follow the dotted GD prediction exactly; the sum over layers"
        " |W_1|^2 - |W_3|^2 + sum_h |b_h|^2 too. Their small drift from the dashed gradient-flow constant is"
        " GD's own, of order eta over a fixed time."
    ),
    prediction="Under gradient flow |W_h|^2 + |b_h|^2 - |W_{h+1}|^2 is conserved (Table 3); dropping |b_h|^2 breaks it.",
    spec={"model": {"widths": [64, 32, 32, 10], "activation": "relu", "bias": True}, "data": DIGITS,
          "dynamics": {"kind": "gd", "lr": 0.05}, "steps": 1500, "record_every": 5},
    runtime="under 30 s",
    tags=("homogeneity", "bias"),
)

swish_beta = make(
    "swish-beta",
    title="Swish with a trainable beta per neuron",
    figure="Table 3 (Swish row), Sec. 4.3",
    explanation=(
        "A network 64-32-32-10 with Swish activations x sigmoid(beta x), one trainable beta per neuron,"
        " trained by gradient descent on digits. Swish is not homogeneous by itself, but scaling x by"
        " lambda and beta by 1/lambda scales its output by lambda: a symmetry that involves beta."
    ),
    look_at=(
        "balance/h1 and balance/h2 (which subtract |beta_h|^2) stay nearly flat while |beta_h|^2 itself changes,"
        " and follow the dotted GD prediction exactly (the dashed line is the gradient-flow constant)."
    ),
    prediction=(
        "Under gradient flow |W_h|^2 - |W_{h+1}|^2 - |beta_h|^2 is conserved; with a fixed beta there is no"
        " symmetry and no law (set the activation to 'swish(1, fixed)' to see it reported not applicable)."
    ),
    spec={"model": {"widths": [64, 32, 32, 10], "activation": "swish(1, trainable)"}, "data": DIGITS,
          "dynamics": {"kind": "gd", "lr": 0.05}, "steps": 1500, "record_every": 5},
    runtime="up to 1 min",
    tags=("homogeneity", "swish"),
)

linear_balance = make(
    "linear-balance",
    title="Linear network: a whole matrix is conserved (Table 4)",
    figure="Table 4, Sec. 5",
    explanation=(
        "A linear network 64-8-8-10 (sigma(x) = x) trained by gradient descent on digits with the squared"
        " error. Any invertible matrix A between two linear layers (W_h -> A W_h, W_{h+1} -> W_{h+1} A^-1)"
        " leaves the network unchanged: a GL(d_h) symmetry with d_h^2 generators."
    ),
    look_at="The 8x8 matrix W_h W_h^T - W_{h+1}^T W_{h+1} (heatmap) stays constant, entry by entry, while W_h trains.",
    prediction=(
        "Under gradient flow the balance matrix W_h W_h^T - W_{h+1}^T W_{h+1} is conserved (Table 4); its"
        " trace is the ReLU-style balance |W_h|^2 - |W_{h+1}|^2."
    ),
    spec={"model": {"widths": [64, 8, 8, 10], "activation": "linear"}, "data": DIGITS, "loss": "mse",
          "dynamics": {"kind": "gd", "lr": 0.05}, "steps": 1500, "record_every": 5},
    runtime="up to 1 min",
    tags=("linear",),
)

rotation_net = make(
    "rotation-net",
    title="Rotation-symmetric data: first-layer neurons as particles with angular momentum",
    figure="Table 5, Sec. 6.2",
    explanation=(
        "A network 3-48-1 (tanh) learns |x|^2 from isotropic Gaussian inputs in R^3, augmented with rotated"
        " copies, under Newtonian dynamics with a random initial velocity. Each first-layer neuron's weight"
        " row W_1[i,:] is a point in R^3: the neurons are particles, and rotating all of them together"
        " leaves the loss (nearly) unchanged because the data look the same from every direction."
    ),
    look_at=(
        "The particles in 3D move in all directions, yet the total angular momentum"
        " (W_1')^T W_1 - W_1^T W_1' of the cloud stays constant (within the sample's symmetry defect, which"
        " the rotation residual <grad L, xi(w)> shows directly: it is not exactly 0 for a finite sample)."
    ),
    prediction=(
        "For rotation-symmetric data, ND conserves the total angular momentum of the first-layer neurons"
        " (Table 5); a finite sample is symmetric only approximately, so expect a small drift that shrinks"
        " with more augmentation (32,768 samples here: the rotation residual stays under its 0.05 tolerance; with"
        " 256 x 16 it reads about 0.13, broken)."
    ),
    spec={"model": {"widths": [3, 48, 1], "activation": "tanh", "init": "xavier_normal"},
          "data": {"kind": "rotation", "dim": 3, "samples": 1024, "target": "radius", "augment": 31},
          "loss": "mse", "initial": {"velocity_scale": 0.3}, "dynamics": {"kind": "nd", "lr": 0.001},
          "steps": 2000, "record_every": 10, "dtype": "float64"},
    runtime="up to 3 min",
    tags=("rotation", "particles"),
)

ntk_width = make(
    "ntk-width",
    title="Wider networks move less: the NTK velocity bound (Sec. 7)",
    figure="Sec. 7, eq. 49",
    explanation=(
        "The same two-hidden-layer ReLU network on digits at widths 50, 100, 200 and 400, each trained by"
        " Newtonian dynamics from rest. Energy conservation caps the speed: |w'|^2 / 2 <= L(w(0)), spread"
        " over m parameters, so the typical parameter moves less as the width grows (the lazy, NTK regime)."
    ),
    look_at=(
        "Across the sweep: the mean |w_i'| under its bound sqrt(2 L(w(0)) / m), and the relative change of"
        " the kernel H_ij = <df(x_i)/dw, df(x_j)/dw>, both smaller for wider networks."
    ),
    prediction="ND at rest: |w'|^2 <= 2 L(w(0)) (eq. 49), so mean |w_i'| <= sqrt(2 L(w(0)) / m); the kernel drift shrinks with width.",
    spec={"model": {"widths": [64, 100, 100, 10], "activation": "relu"}, "data": DIGITS, "loss": "mse",
          "dynamics": {"kind": "nd", "lr": 0.01}, "steps": 300, "record_every": 5},
    sweep={"model.widths": [[64, 50, 50, 10], [64, 100, 100, 10], [64, 200, 200, 10], [64, 400, 400, 10]]},
    runtime="up to 2 min for the four runs",
    tags=("ntk", "sweep"),
)

gd_vs_sgd = make(
    "gd-vs-sgd",
    title="GD against SGD: the symmetry survives minibatches",
    figure="Sec. 8 (discussion)",
    explanation=(
        "The ReLU network 64-64-64-10 on digits, trained once by full-batch gradient descent and once by"
        " SGD on minibatches of 32 at the same learning rate. The rescaling symmetry leaves every single"
        " sample's prediction unchanged, so it holds for every minibatch loss as well."
    ),
    look_at="balance/h1 and balance/h2 in the two runs: both nearly flat, SGD's with a slightly larger drift.",
    prediction=(
        "Homogeneity laws carry over from GF to SGD to the same order as to GD (an eta^2 change per step);"
        " laws that come from a symmetry of the data (rotations) hold only on average."
    ),
    spec={"model": {"widths": [64, 64, 64, 10], "activation": "relu"}, "data": DIGITS,
          "dynamics": {"kind": "gd", "lr": 0.05}, "steps": 1000, "record_every": 5},
    sweep={"dynamics": [{"kind": "gd", "lr": 0.05}, {"kind": "sgd", "lr": 0.05, "batch_size": 32}]},
    runtime="up to 1 min for the two runs",
    tags=("sgd", "sweep"),
)

translation_ce = make(
    "translation-ce",
    title="Softmax output: the class sums of the last layer (translation)",
    figure="beyond the paper (Kunin et al. 2021, translation symmetry)",
    explanation=(
        "A ReLU network 64-32-32-10 with biases, trained by gradient descent with a small weight decay"
        " (lambda = 0.01) on digits with the cross-entropy loss. Softmax does not change when the same"
        " number is added to every class's output, so adding the same row to every class of the last layer"
        " (W_3 -> W_3 + 1 a^T, b_3 -> b_3 + c 1) leaves the loss unchanged: a translation symmetry."
    ),
    look_at=(
        "the chart of (law translation), the length of s = the sums over the 10 classes of the columns of W_3"
        " and of b_3: it falls smoothly along the dashed curve |s(0)| exp(-lambda t) and the dotted GD"
        " prediction, while the class rows themselves move a lot."
    ),
    prediction=(
        "The gradient's sum over classes is 0, so under gradient flow s is constant; weight decay makes it"
        " decay as exp(-lambda t) (|s|^2 as exp(-2 lambda t), Kunin et al.), and GD follows exactly"
        " s_{k+1} = (1 - eta lambda) s_k: without weight decay, s would not move at all. With the squared"
        " error ('mse') there is no such law: the runner says so."
    ),
    spec={"model": {"widths": [64, 32, 32, 10], "activation": "relu", "bias": True}, "data": DIGITS, "loss": "nll",
          "dynamics": {"kind": "gd", "lr": 0.05, "weight_decay": 0.01}, "steps": 1500, "record_every": 5},
    runtime="under 30 s",
    tags=("translation", "softmax"),
)

batchnorm_scale = make(
    "batchnorm-scale",
    title="BatchNorm: scale-invariant weights grow under GD",
    figure="beyond the paper (Kunin et al. 2021, scale symmetry)",
    explanation=(
        "A ReLU network 64-32-32-10 with BatchNorm (no affine parameters) after its first hidden layer,"
        " trained by gradient descent on digits from a small initialisation. BatchNorm divides each neuron's"
        " pre-activation by its spread over the batch, so scaling a neuron's incoming weights W_1[i,:] and"
        " bias by any c > 0 changes nothing: W_1 is scale-invariant, and its gradient is orthogonal to it."
    ),
    look_at=(
        "the chart of (law scale/h1), |W_1|^2 + |b_1|^2: gradient flow says constant (dashed), yet it doubles; GD's exact"
        " prediction (dotted), |W_1|^2 growing by eta^2 |grad|^2 at every step, follows it to float precision."
        " balance/h1 is reported not applicable (BatchNorm undoes the rescaling it needs); balance/h2 still holds."
    ),
    prediction=(
        "Orthogonal gradients make a step lengthen W: |W_{k+1}|^2 = |W_k|^2 + eta^2 |grad|^2 exactly (Kunin et"
        " al.), a drift of order eta from gradient flow's constant; weight decay lambda adds the factor"
        " (1 - 2 eta lambda) and would make it decay as exp(-2 lambda t) under the flow."
    ),
    spec={"model": {"widths": [64, 32, 32, 10], "activation": "relu", "bias": True, "batch_norm": [True, False],
                    "init_gain": 0.25},
          "data": DIGITS, "dynamics": {"kind": "gd", "lr": 0.2}, "steps": 1500, "record_every": 5},
    runtime="up to 1 min",
    tags=("batchnorm", "scale"),
)

PRESETS = [bias, swish_beta, linear_balance, rotation_net, ntk_width, gd_vs_sgd, translation_ce, batchnorm_scale]
