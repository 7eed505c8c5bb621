"""The candidate space of Algorithm 1: linear generators xi(w) = A w on the flattened parameters.

No m x m matrix is ever built. A *family* is a structured basis A_1 .. A_n of generators acting on a few
parameter tensors, and knows how to evaluate, for a batch of vectors g_s (gradients, velocities, or w
itself) and one point w, every pairing <g_s, A_j w> at once with a few matrix products:

- ``RescaleFamily(h)``: per hidden neuron i of layer h, one diagonal candidate per piece it owns:
  the row W_h[i,:], the bias b_h[i], the Swish parameter beta_h[i], the column W_{h+1}[:,i]. The paper's
  rescaling (eq. 28, Table 3) is the combination (1, 1, -1, -p); keeping the pieces separate lets the
  null space *find* those coefficients.
- ``GLFamily``: gl(d) acting on an index space of size d through tensors multiplied on the left
  (X -> E X) or on the right (Y -> s Y E). Its basis is split by transposition: diagonal E_aa,
  symmetric S_ab = E_ab + E_ba and antisymmetric K_ab = E_ab - E_ba (a < b). Instances:

  ======== =============================================== =========================================
  name     action                                          paper
  ======== =============================================== =========================================
  mix      W_h -> E W_h, b_h -> E b_h, W_{h+1} -> -W_{h+1} E  gl(d_h) between layers (eq. 38, Table 4);
           (off-diagonal only: the diagonal is the          symmetric part: balance matrix, ND charges
           rescale family's)                                from the antisymmetric part
  input    W_1 -> W_1 E                                     so(d_x) for rotation-symmetric data (eq. 44)
  output   W_K -> E W_K, b_K -> E b_K                       none (finds the softmax shift 1 c^T of NLL)
  rotation w -> E w (potentials)                            so(d) of the rotation toy (Sec. 6.1)
  ======== =============================================== =========================================

Transposition (the adjoint on the flattened parameters) maps every basis element to +-itself: the
rescale pieces, E_aa and S_ab are symmetric, K_ab antisymmetric (the adjoint of X -> E X is X -> E^T X,
of Y -> Y E is Y -> Y E^T). ``parity`` records the sign, so that the found space can be split.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import Tensor

from noether.structure import Params, Structure

Batch = list[Tensor]  # parameter-shaped tensors with a leading batch dimension S


def _rows(x: Tensor) -> Tensor:
    """(d, ...) -> (d, k): a tensor whose first index is acted on, flattened behind."""
    return x.reshape(x.shape[0], -1)


@dataclass
class Candidate:
    """What a candidate is, for display and for naming the laws found."""

    family: str  # rescale | mix | input | output | rotation
    layer: int | None  # h for rescale and mix, None otherwise
    label: str  # e.g. "W2[3,:]", "S[1,2]"
    piece: str  # rescale: row | bias | beta | col; GL: diag | sym | anti
    i: int  # neuron (rescale), first index a (GL)
    j: int  # -1 (rescale), second index b (GL)


class Family:
    """A structured basis A_1..A_n of linear generators; see the module docstring."""

    name: str
    layer: int | None
    candidates: list[Candidate]
    parity: Tensor  # +1 symmetric, -1 antisymmetric, per candidate
    owner: Tensor  # per candidate, the index (neuron, or GL index a) used to group by support

    @property
    def size(self) -> int:
        return len(self.candidates)

    def pairings(self, w: Params, g: Batch) -> Tensor:
        """P[s, j] = <g_s, A_j w>, shape (S, n)."""
        raise NotImplementedError

    def scales(self, w: Params, g: Batch) -> Tensor:
        """R[s, j] = |g_s restricted to where A_j acts| * |A_j w| >= |P[s, j]| (Cauchy-Schwarz), shape (S, n)."""
        raise NotImplementedError

    def terms(self, w: Params, g: Batch) -> Tensor:
        """The elementary terms of each pairing, shape (S, n, t), summing to ``pairings`` over the last axis.

        A rescale piece is one term (e.g. |W_h[i,:]|^2 when g = w); a gl basis element has one term per
        matrix entry it touches and per tensor it acts on (e.g. (W W^T)[a,b] and -(V^T V)[a,b]). Laws measure
        their drift against the movement of these terms.
        """
        raise NotImplementedError

    def norms(self, w: Params) -> Tensor:
        """|A_j w| per candidate, shape (n,)."""
        raise NotImplementedError

    def apply(self, coeffs: Tensor, w: Params) -> dict[int, Tensor]:
        """(sum_j c_j A_j) w, as {parameter index: tensor} (the other tensors are zero)."""
        raise NotImplementedError


# ---------------------------------------------------------------------------------------------


class RescaleFamily(Family):
    """Per-neuron rescaling pieces of hidden layer h: W_h[i,:], b_h[i], beta_h[i], W_{h+1}[:,i] (eq. 28)."""

    def __init__(self, structure: Structure, h: int):
        self.name = "rescale"
        self.layer = h
        layer = structure.layer(h)
        d = layer.fan_out
        self.d = d
        self.iW, self.ib, self.ibeta, self.iV = structure.W(h), structure.b(h), structure.beta(h), structure.W(h + 1)
        pieces = ["row"] + (["bias"] if self.ib is not None else []) + (["beta"] if self.ibeta is not None else [])
        pieces.append("col")
        self.pieces = pieces
        self.k = len(pieces)
        labels = {
            "row": f"W{h}[{{i}},:]",
            "bias": f"b{h}[{{i}}]",
            "beta": f"beta{h}[{{i}}]",
            "col": f"W{h + 1}[:,{{i}}]",
        }
        self.candidates = [
            Candidate("rescale", h, labels[p].format(i=i), p, i, -1) for i in range(d) for p in pieces
        ]
        self.parity = torch.ones(self.size)
        self.owner = torch.arange(d).repeat_interleave(self.k)

    def _stack(self, parts: dict[str, Tensor]) -> Tensor:
        """(S, d) per piece -> (S, d * k), neuron-major."""
        return torch.stack([parts[p] for p in self.pieces], dim=-1).reshape(parts["row"].shape[0], -1)

    def pairings(self, w: Params, g: Batch) -> Tensor:
        parts = {
            "row": (g[self.iW] * w[self.iW]).sum(-1),
            "col": (g[self.iV] * w[self.iV]).sum(-2),
        }
        if self.ib is not None:
            parts["bias"] = g[self.ib] * w[self.ib]
        if self.ibeta is not None:
            parts["beta"] = g[self.ibeta] * w[self.ibeta]
        return self._stack(parts)

    def terms(self, w: Params, g: Batch) -> Tensor:
        return self.pairings(w, g)[..., None]

    def scales(self, w: Params, g: Batch) -> Tensor:
        parts = {
            "row": g[self.iW].norm(dim=-1) * w[self.iW].norm(dim=-1),
            "col": g[self.iV].norm(dim=-2) * w[self.iV].norm(dim=-2),
        }
        if self.ib is not None:
            parts["bias"] = (g[self.ib] * w[self.ib]).abs()
        if self.ibeta is not None:
            parts["beta"] = (g[self.ibeta] * w[self.ibeta]).abs()
        return self._stack(parts)

    def norms(self, w: Params) -> Tensor:
        parts = {"row": w[self.iW].norm(dim=-1)[None], "col": w[self.iV].norm(dim=-2)[None]}
        if self.ib is not None:
            parts["bias"] = w[self.ib].abs()[None]
        if self.ibeta is not None:
            parts["beta"] = w[self.ibeta].abs()[None]
        return self._stack(parts)[0]

    def apply(self, coeffs: Tensor, w: Params) -> dict[int, Tensor]:
        c = coeffs.reshape(self.d, self.k).to(w[self.iW])
        out = {}
        for col, p in enumerate(self.pieces):
            ci = c[:, col]
            if p == "row":
                out[self.iW] = w[self.iW] * ci[:, None]
            elif p == "bias":
                out[self.ib] = w[self.ib] * ci
            elif p == "beta":
                out[self.ibeta] = w[self.ibeta] * ci
            else:
                out[self.iV] = w[self.iV] * ci[None, :]
        return out


# ---------------------------------------------------------------------------------------------


@dataclass
class Action:
    """One tensor that E acts on: ``side`` 'left' (X -> E X) or 'right' (Y -> sign * Y E)."""

    index: int
    side: str
    sign: float = 1.0


@dataclass
class GLFamily(Family):
    """gl(d) on an index space of size d, in the basis diag E_aa, sym S_ab, anti K_ab (a < b)."""

    name: str
    d: int
    actions: list[Action]
    layer: int | None = None
    diagonal: bool = True
    prefix: str = "E"
    candidates: list[Candidate] = field(init=False)

    def __post_init__(self) -> None:
        d = self.d
        a, b = torch.triu_indices(d, d, offset=1)
        self._a, self._b = a, b
        self._up, self._lo = a * d + b, b * d + a  # flat positions of E_ab and E_ba
        cands: list[Candidate] = []
        if self.diagonal:
            cands += [Candidate(self.name, self.layer, f"{self.prefix}[{i},{i}]", "diag", i, i) for i in range(d)]
        pairs = list(zip(a.tolist(), b.tolist(), strict=True))
        cands += [Candidate(self.name, self.layer, f"S[{i},{j}]", "sym", i, j) for i, j in pairs]
        cands += [Candidate(self.name, self.layer, f"K[{i},{j}]", "anti", i, j) for i, j in pairs]
        self.candidates = cands
        n_diag = d if self.diagonal else 0
        self.parity = torch.cat([torch.ones(n_diag + len(pairs)), -torch.ones(len(pairs))])
        self.owner = torch.tensor([c.i for c in cands], dtype=torch.long)

    # C[s, a, b] = <g_s, A_{E_ab} w>, the whole gl(d) at once, one matrix per tensor acted on.
    def _matrices(self, w: Params, g: Batch) -> list[Tensor]:
        out = []
        for act in self.actions:
            X, G = w[act.index], g[act.index]
            if act.side == "left":
                out.append(torch.matmul(G.reshape(G.shape[0], self.d, -1), _rows(X).T))
            else:
                out.append(act.sign * torch.matmul(X.T, G))
        return out

    def _matrix(self, w: Params, g: Batch) -> Tensor:
        return sum(self._matrices(w, g))

    def terms(self, w: Params, g: Batch) -> Tensor:
        parts = []
        for C in self._matrices(w, g):
            up, lo = C[:, self._a, self._b], C[:, self._b, self._a]
            rows = []
            if self.diagonal:
                diag = torch.diagonal(C, dim1=-2, dim2=-1)
                rows.append(torch.stack([diag, torch.zeros_like(diag)], dim=-1))
            rows += [torch.stack([up, lo], dim=-1), torch.stack([up, -lo], dim=-1)]
            parts.append(torch.cat(rows, dim=1))
        return torch.cat(parts, dim=-1)

    def _norms2(self, x: Params | Batch, batched: bool) -> Tensor:
        """Per index a: squared norm of the rows (left) and columns (right) that E_a. touches, (S, d) or (d,)."""
        total = None
        for act in self.actions:
            X = x[act.index]
            if act.side == "left":
                n = X.reshape(*X.shape[: 1 + batched], -1).pow(2).sum(-1)
            else:
                n = X.pow(2).sum(-2)
            total = n if total is None else total + n
        return total

    def _basis(self, C: Tensor) -> Tensor:
        """(S, d, d) values on E_ab -> (S, n) values on the diag / sym / anti basis."""
        flat = C.reshape(C.shape[0], -1)
        up = flat.index_select(1, self._up.to(C.device))
        lo = flat.index_select(1, self._lo.to(C.device))
        parts = [torch.diagonal(C, dim1=-2, dim2=-1)] if self.diagonal else []
        parts += [up + lo, up - lo]
        return torch.cat(parts, dim=-1)

    def pairings(self, w: Params, g: Batch) -> Tensor:
        return self._basis(self._matrix(w, g))

    def scales(self, w: Params, g: Batch) -> Tensor:
        # |A w|^2 and |P g|^2 of a basis element touching indices a, b are sums of per-index norms.
        nw = self._norms2(w, batched=False)
        ng = self._norms2(g, batched=True)
        parts_w, parts_g = [], []
        if self.diagonal:
            parts_w.append(nw)
            parts_g.append(ng)
        pw = nw[self._a] + nw[self._b]
        pg = ng[:, self._a] + ng[:, self._b]
        parts_w += [pw, pw]
        parts_g += [pg, pg]
        return (torch.cat(parts_g, dim=-1) * torch.cat(parts_w)).sqrt()

    def norms(self, w: Params) -> Tensor:
        nw = self._norms2(w, batched=False)
        parts = [nw] if self.diagonal else []
        pw = nw[self._a] + nw[self._b]
        return torch.cat([*parts, pw, pw]).sqrt()

    def matrix(self, coeffs: Tensor) -> Tensor:
        """The d x d matrix E = sum_j c_j (basis element j)."""
        d = self.d
        E = torch.zeros(d, d, dtype=coeffs.dtype, device=coeffs.device)
        n_pairs = len(self._a)
        off = 0
        if self.diagonal:
            E[range(d), range(d)] = coeffs[:d]
            off = d
        s, k = coeffs[off : off + n_pairs], coeffs[off + n_pairs : off + 2 * n_pairs]
        E[self._a, self._b] += s + k
        E[self._b, self._a] += s - k
        return E

    def apply(self, coeffs: Tensor, w: Params) -> dict[int, Tensor]:
        E = self.matrix(coeffs.to(w[self.actions[0].index]))
        out = {}
        for act in self.actions:
            X = w[act.index]
            if act.side == "left":
                out[act.index] = (E @ _rows(X)).reshape(X.shape)
            else:
                out[act.index] = act.sign * (X @ E)
        return out


def mix_family(structure: Structure, h: int) -> GLFamily:
    """Off-diagonal gl(d_h) between layers h and h+1: W_h -> E W_h, b_h -> E b_h, W_{h+1} -> -W_{h+1} E."""
    acts = [Action(structure.W(h), "left")]
    if structure.b(h) is not None:
        acts.append(Action(structure.b(h), "left"))
    acts.append(Action(structure.W(h + 1), "right", -1.0))
    return GLFamily("mix", structure.layer(h).fan_out, acts, layer=h, diagonal=False)


def input_family(structure: Structure) -> GLFamily:
    """gl(d_x) on the inputs: W_1 -> W_1 E (so(d_x) is the rotation of the data, eq. 44)."""
    return GLFamily("input", structure.layer(1).fan_in, [Action(structure.W(1), "right", 1.0)], layer=1, prefix="P")


def output_family(structure: Structure) -> GLFamily:
    """gl(d_y) on the outputs: W_K -> E W_K, b_K -> E b_K."""
    K = structure.depth
    acts = [Action(structure.W(K), "left")]
    if structure.b(K) is not None:
        acts.append(Action(structure.b(K), "left"))
    return GLFamily("output", structure.layer(K).fan_out, acts, layer=K, prefix="Q")


def rotation_family(structure: Structure) -> GLFamily:
    """gl(d) on a potential's position: w -> E w (so(d) for the rotation toy)."""
    return GLFamily("rotation", structure.shapes[0][0], [Action(0, "left")], prefix="A")


def apply_sum(pieces: list[dict[int, Tensor]], params: Params) -> Params:
    """Add the {index: tensor} outputs of several families into one parameter-shaped list."""
    out = [torch.zeros_like(p) for p in params]
    for piece in pieces:
        for i, t in piece.items():
            out[i] = out[i] + t
    return out
