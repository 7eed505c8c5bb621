"""The "Watching your own model" section of docs/laws.md (appended by ``noether.laws.docs.render_markdown``)."""

MARKDOWN = r"""
## Watching your own model (`noether.watch`)

`noether.watch(model, optimizer, loss_fn)` measures four families of laws on any PyTorch model, found
from its structure (`noether.watcher.detect`: torch.fx, or module hooks for models fx cannot trace),
after D. Kunin, J. Sagastuy-Breña, S. Ganguli, D. Yamins and H. Tanaka, *Neural Mechanics: Symmetry
and Broken Conservation Laws in Deep Learning Dynamics*, ICLR 2021
([arXiv:2012.04728](https://arxiv.org/abs/2012.04728); Sec. 3: symmetries and the geometry of
gradients and Hessians; Sec. 4: conservation laws under gradient flow; Sec. 5: modified gradient flow
with weight decay, momentum and finite learning rates; Sec. 6: the exact dynamics of the conserved
quantities it gives). Each law is `Q = <theta, A theta>` (or the vector `s = <theta, 1>`), with a
generator that leaves the loss unchanged, so `<grad L, A theta> = 0` (`<grad L, 1> = 0`) at every
theta and for every minibatch.

| family | ids | found when | quantity | symmetries |
|---|---|---|---|---|
| rescale | `rescale/<a>-<b>` | Linear/Conv `a` (or an affine norm layer) -> positively homogeneous ops (ReLU, LeakyReLU, max/avg pool, flatten, dropout) -> Linear/Conv `b` | `\|W_a\|^2 + \|b_a\|^2 - \|W_b\|^2` (per channel in `:neurons`) | one per channel |
| scale | `scale/<a>` | Linear/Conv `a` -> BatchNorm, LayerNorm or GroupNorm | `\|W_a\|^2 + \|b_a\|^2` | one per channel (BatchNorm), group (GroupNorm), layer (LayerNorm) |
| translation | `translation/<a>` | the last Linear `a` feeds a softmax, or the loss is cross-entropy | `\|[sum_c W_a[c, :], sum_c b_a[c]]\|` | d + 1 |
| linear | `linear/<a>-<b>` | Linear -> Linear with nothing nonlinear between | `\|M(t) - M(0)\|_F`, `M = W_a W_a^T + b_a b_a^T - W_b^T W_b` | d^2 (GL(d)) |

Layers no law covers are listed with the reason ("layer fc1 (Linear): GELU (act) is not positively
homogeneous: no rescaling"); a BatchNorm's `eps` breaks scale invariance slightly (the verdict's 5%
tolerance covers it).

**Predictions.** PyTorch's SGD with learning rate eta, momentum beta (dampening 0, no Nesterov) and
coupled weight decay lambda is `v_{k+1} = beta v_k + g_k + lambda theta_k`, `theta_{k+1} = theta_k - eta v_{k+1}`,
`v_0 = 0`; time is `t = sum_k eta_k`; `c = 1/(1 - beta)`.

| column | prediction | error over a fixed time |
|---|---|---|
| `<id>:pred` | gradient flow `theta' = -c (grad L + lambda theta)`: `Q` constant without weight decay, `Q(0) e^{-2 c lambda t}` with it (translation: `s(0) e^{-c lambda t}`) | O(eta) |
| `<id>:pred_discrete` | exact: with `K = <v, A v>` and `P_k = <A theta_k, v_{k+1}>`, `P_k = beta (P_{k-1} - eta K_k) + lambda Q_k`, `Q_{k+1} = Q_k - 2 eta P_k + eta^2 K_{k+1}`; for beta = 0 this is `Q_{k+1} = (1 - eta lambda)^2 Q_k + eta^2 <g, A g>`. Translation: `u_{k+1} = beta u_k + lambda s_k`, `s_{k+1} = s_k - eta u_{k+1}` (`<g, 1> = 0` removes the gradient) | rounding |
| `<id>:pred_modified` | modified flow: momentum's modified equation `m theta'' + theta' = -c (grad L + lambda theta)`, `m = eta (1 + beta) / (2 (1 - beta))` (Kunin et al. Sec. 5), projected on the generator and reduced to its slow manifold: `Q' = -2 (c lambda + 2 m c^2 lambda^2) Q + 2 m K`, `K = <theta', A theta'>` measured from the momentum buffer; `s' = -c lambda (1 + m c lambda) s`; the `c lambda` decay starts after the momentum's lag `eta beta / (1 - beta)`. For SGD (beta = 0): `Q(t) = e^{-2 lambda (1 + eta lambda / 2) t} Q(0) + eta int_0^t e^{-2 lambda (1 + eta lambda / 2)(t - tau)} <g, A g> dtau`, the decay `e^{-2 lambda t}` plus the eta-weighted gradient term of Kunin et al. (Sec. 6) with its O(eta lambda^2) correction | O(eta^2) |
| none | Adam, AdamW, RMSprop, others: no prediction (the per-coordinate preconditioner is not equivariant under the symmetry: `<update, A theta> != 0`); the quantities are drawn as diagnostics with the verdict *not applicable* | - |

Derivation of the modified flow for a quadratic law: with `P = Q'/2 = <A theta, theta'>`,
`m (P' - K) + P + c lambda Q = 0` (the symmetry removes `grad L`); on the slow manifold `Q'' = 4 c^2 lambda^2 Q + O(eta)`,
so `Q' = -2 c lambda Q - 4 m c^2 lambda^2 Q + 2 m K`, and with `K = c^2 (<g, A g> + lambda^2 Q) + O(eta)` the form above.
The exact recursions follow from expanding `|theta_{k+1}|^2` and using `<A theta_k, g_k> = 0`; for the linear family the
same recursions hold for the matrices (the cross terms' antisymmetric parts cancel). Verdict: the relative drift
from `:pred_discrete` (against the movement of the law's terms) at most 0.05. `tests/watcher/test_predict.py`
fits the slopes: 1.0 and 2.0 for SGD with weight decay, about 1 and 2.0 for momentum 0.9, every family.

**Exact and cheap mode.** The exact recursions and the modified flow of the quadratic families (rescale,
scale, linear) need each step's `K`: by default (`exact=True`) every optimiser step takes one fused norm of
those tensors' momentum buffers (or gradients), and nothing else but Python bookkeeping; the laws are measured
only at the records. `noether.watch(..., exact=False)` (the cheap mode) does no tensor work between records:
at a record, the buffers' `K` stands for every step since the previous record, the quadratic families lose
their `:pred_discrete` column and are judged by the modified flow (the same 5% tolerance), and translation keeps
its exact identity, which needs no `K`. The cost of each mode is in docs/benchmarks.md (`python -m bench monitor`).
"""
