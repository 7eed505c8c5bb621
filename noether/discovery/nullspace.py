"""Null spaces of the constraint matrix, with stated tolerances, and a readable basis of what they contain.

Exact symmetries (model stage, potentials). Each entry M[s, j] = <g_s, A_j w_s> is an inner product,
bounded (Cauchy-Schwarz) by R[s, j] = |g_s on the coordinates A_j moves| * |A_j w_s|. Columns are divided
by rho_j = sqrt(sum_s R[s, j]^2), so that a column's norm is the RMS cosine between the gradient and the
generator's direction: 0 for an exact symmetry, of order 1 for none, whatever the units of the
parameters. The tolerance bounds that cosine (the singular values of the scaled matrix M~), and each
generator's residual is |M c| / |rho (.) c| on held-out rows.

Data symmetries (data stage). A finite sample of rotation-symmetric data is only approximately symmetric,
so the full-batch pairing D = <grad L, A w> = mean_n <grad l_n, A w> is not 0 but of the size of its own
sampling noise. The test is statistical: z(c)^2 = sum_p (D_p c)^2 / sum_p Var_n(P_pn c) / N, the mean
squared z-score over points p of the pairing against its standard error over the N samples. A symmetry
of the distribution the data were drawn from has z ~ 1 at any N; a generator that is no symmetry has z
growing like sqrt(N). Directions with z <= ``z_max`` solve a generalised eigenproblem.

Cost. Candidates whose own column is null are generators by themselves and leave the decomposition
first; the rest is solved in blocks from Gram matrices accumulated chunk by chunk (rows are never kept).
Eigenvalues of M~^T M~ are squared singular values, which puts the floor of resolvable singular values
near 1e-8 * sigma_max, under the default tolerance (1e-5).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import Tensor


@dataclass
class Accumulator:
    """Streams rows into per-candidate column statistics and per-block Gram matrices."""

    n: int  # candidates in all
    blocks: list[Tensor] = field(default_factory=list)  # global column indices of each joint block
    keep: Tensor | None = None  # columns whose rows are kept (held-out validation of block generators)
    sq: Tensor = field(init=False)  # sum_s M[s, j]^2
    scale_sq: Tensor = field(init=False)  # sum_s R[s, j]^2
    evidence: Tensor = field(init=False)  # rows where the gradient touched what A_j moves (R[s, j] > 0)
    grams: list[Tensor] = field(init=False)
    kept: list[Tensor] = field(default_factory=list)
    rows: int = 0

    def __post_init__(self) -> None:
        self.sq = torch.zeros(self.n, dtype=torch.float64)
        self.scale_sq = torch.zeros(self.n, dtype=torch.float64)
        self.evidence = torch.zeros(self.n, dtype=torch.long)
        self.grams = [torch.zeros(len(b), len(b), dtype=torch.float64) for b in self.blocks]

    def add(self, P: Tensor, R: Tensor, cols: Tensor | None = None) -> None:
        """One chunk of rows: pairings P (S, n) and their Cauchy-Schwarz bounds R (S, n).

        With ``cols``, P and R hold only those global columns (families left out of these rows); the
        block and kept columns must be among them.
        """
        P = P.detach().to(torch.float64).cpu()
        R = R.detach().to(torch.float64).cpu()
        seen = (R > 1e-10 * R.amax().clamp_min(1e-300)).sum(0)  # rows where R is not (nearly) 0
        if cols is None:
            self.sq += (P * P).sum(0)
            self.scale_sq += (R * R).sum(0)
            self.evidence += seen
            at = None
        else:
            self.sq.index_add_(0, cols, (P * P).sum(0))
            self.scale_sq.index_add_(0, cols, (R * R).sum(0))
            self.evidence.index_add_(0, cols, seen)
            at = torch.full((self.n,), -1, dtype=torch.long)
            at[cols] = torch.arange(len(cols))
        for b, G in zip(self.blocks, self.grams, strict=True):
            Pb = P[:, b] if at is None else P[:, at[b]]
            G += Pb.T @ Pb
        if self.keep is not None and len(self.keep):
            self.kept.append(P[:, self.keep] if at is None else P[:, at[self.keep]])
            self._kept_cat = None
        self.rows += P.shape[0]

    def _kept(self) -> tuple[Tensor, dict[int, int]]:
        if getattr(self, "_kept_cat", None) is None:
            self._kept_cat = torch.cat(self.kept)
            self._kept_pos = {int(j): k for k, j in enumerate(self.keep.tolist())}
        return self._kept_cat, self._kept_pos

    @property
    def rho(self) -> Tensor:
        return self.scale_sq.sqrt()

    def residuals(self) -> Tensor:
        """Per candidate, the RMS cosine |M~ e_j|; 0 where the candidate never pairs with anything."""
        rho = self.rho
        out = torch.zeros_like(rho)
        ok = rho > 0
        out[ok] = self.sq[ok].sqrt() / rho[ok]
        return out

    def residual_of(self, index: Tensor, C: Tensor) -> Tensor:
        """|P c| / |rho (.) c| for the columns c of C over candidates ``index``, from kept rows or a block's Gram."""
        den = (self.rho[index][:, None] * C).norm(dim=0).clamp_min(1e-300)
        if self.keep is not None and self.kept:
            rows, pos = self._kept()
            if all(int(j) in pos for j in index.tolist()):
                cols = torch.tensor([pos[int(j)] for j in index.tolist()], dtype=torch.long)
                return (rows[:, cols] @ C).norm(dim=0) / den
        for b, G in zip(self.blocks, self.grams, strict=True):
            pos = {int(j): k for k, j in enumerate(b.tolist())}
            if all(int(j) in pos for j in index.tolist()):
                sel = torch.tensor([pos[int(j)] for j in index.tolist()], dtype=torch.long)
                num = torch.einsum("ir,ij,jr->r", C, G[sel][:, sel], C).clamp_min(0).sqrt()
                return num / den
        return torch.full((C.shape[1],), float("nan"), dtype=torch.float64)


@dataclass
class NoiseAccumulator:
    """Data stage: per point, the full-batch pairing D_p and the covariance of the per-sample pairings."""

    n: int
    joint: bool  # full n x n matrices (else diagonals only: candidates screened one at a time)
    A: Tensor = field(init=False)  # sum_p D_p D_p^T
    B: Tensor = field(init=False)  # sum_p Cov_n(P_pn) / N
    sq: Tensor = field(init=False)  # cosine statistics of D, as in Accumulator
    scale_sq: Tensor = field(init=False)
    points: int = 0
    samples: int = 0

    def __post_init__(self) -> None:
        shape = (self.n, self.n) if self.joint else (self.n,)
        self.A = torch.zeros(shape, dtype=torch.float64)
        self.B = torch.zeros(shape, dtype=torch.float64)
        self.sq = torch.zeros(self.n, dtype=torch.float64)
        self.scale_sq = torch.zeros(self.n, dtype=torch.float64)

    def add_point(self, P: Tensor, R_full: Tensor) -> None:
        """P (N, n): per-sample pairings at one point; R_full (n,): bounds for the full-batch pairing."""
        P = P.detach().to(torch.float64).cpu()
        R_full = R_full.detach().cpu()
        N = P.shape[0]
        D = P.mean(0)
        X = P - D
        if self.joint:
            self.A += torch.outer(D, D)
            self.B += (X.T @ X) / max(N - 1, 1) / N
        else:
            self.A += D * D
            self.B += (X * X).sum(0) / max(N - 1, 1) / N
        self.sq += D * D
        self.scale_sq += R_full.to(torch.float64) ** 2
        self.points += 1
        self.samples = N

    def zscores(self) -> Tensor:
        """Per candidate, the RMS z-score of its full-batch pairing against the sampling noise."""
        A = torch.diagonal(self.A) if self.joint else self.A
        B = torch.diagonal(self.B) if self.joint else self.B
        return (A / B.clamp_min(1e-300)).sqrt()

    def zscore_of(self, C: Tensor) -> Tensor:
        """RMS z-score of the columns of C (joint accumulators only)."""
        num = torch.einsum("ir,ij,jr->r", C, self.A, C)
        den = torch.einsum("ir,ij,jr->r", C, self.B, C).clamp_min(1e-300)
        return (num / den).clamp_min(0).sqrt()

    def cosines(self) -> Tensor:
        rho = self.scale_sq.sqrt()
        out = torch.zeros_like(rho)
        ok = rho > 0
        out[ok] = self.sq[ok].sqrt() / rho[ok]
        return out


def scaled_null(G: Tensor, rho: Tensor, tol: float) -> tuple[Tensor, Tensor]:
    """Orthonormal null vectors (scaled coordinates) of the scaled Gram matrix G / rho rho^T, and its singular values."""
    Gs = G / rho[:, None] / rho[None, :]
    evals, evecs = torch.linalg.eigh(Gs)
    sigma = evals.clamp_min(0).sqrt()
    return evecs[:, sigma <= tol], sigma


def noise_null(A: Tensor, B: Tensor, z_max: float) -> tuple[Tensor, Tensor]:
    """Raw coefficient vectors with RMS z-score <= z_max (generalised eigenproblem A c = z^2 B c), and all z."""
    lam, U = torch.linalg.eigh(B)
    floor = 1e-12 * float(lam.abs().max().clamp_min(1e-300))
    inv_sqrt = U / lam.clamp_min(floor).sqrt()[None, :]
    Mz = inv_sqrt.T @ A @ inv_sqrt
    mu, Y = torch.linalg.eigh((Mz + Mz.T) / 2)
    z = mu.clamp_min(0).sqrt()
    C = inv_sqrt @ Y[:, z <= z_max]
    return C, z


def _gen_eigh(A: Tensor, B: Tensor) -> tuple[Tensor, Tensor]:
    """Eigenpairs of A y = lam B y (B positive semi-definite, floored), ascending."""
    lam_b, U = torch.linalg.eigh((B + B.T) / 2)
    floor = 1e-12 * float(lam_b.abs().max().clamp_min(1e-300))
    inv_sqrt = U / lam_b.clamp_min(floor).sqrt()[None, :]
    M = inv_sqrt.T @ A @ inv_sqrt
    lam, Y = torch.linalg.eigh((M + M.T) / 2)
    return lam.clamp_min(0), inv_sqrt @ Y


def held_out(C: Tensor, A: Tensor, scale_sq: Tensor, tol: float, B: Tensor | None = None, z_max: float | None = None):
    """The part of span(C) that also holds on held-out rows: RMS cosine <= tol (and z <= z_max when B is given).

    C holds raw coefficients; A is the held-out Gram matrix sum_s P_s P_s^T over the same candidates and
    scale_sq the held-out sum_s R_s^2, so that the cosine of c is sqrt(c^T A c / |sqrt(scale_sq) c|^2).
    Returns raw coefficients of the kept directions and their cosines (and z-scores).
    """
    if C.shape[1] == 0:
        return C, C.new_zeros(0), None
    Q, _ = torch.linalg.qr(C / C.norm(dim=0).clamp_min(1e-300))
    lam, Y = _gen_eigh(Q.T @ A @ Q, Q.T @ (scale_sq[:, None] * Q))
    keep = Q @ Y[:, lam.sqrt() <= tol]
    if B is None or keep.shape[1] == 0:
        cos = _ratio(keep, A, scale_sq)
        return keep, cos, None
    mu, Y2 = _gen_eigh(keep.T @ A @ keep, keep.T @ B @ keep)
    keep = keep @ Y2[:, mu.sqrt() <= z_max]
    z = (torch.einsum("ir,ij,jr->r", keep, A, keep) / torch.einsum("ir,ij,jr->r", keep, B, keep).clamp_min(1e-300)).sqrt()
    return keep, _ratio(keep, A, scale_sq), z


def _ratio(C: Tensor, A: Tensor, scale_sq: Tensor) -> Tensor:
    num = torch.einsum("ir,ij,jr->r", C, A, C).clamp_min(0)
    den = (scale_sq[:, None] * C * C).sum(0).clamp_min(1e-300)
    return (num / den).sqrt()


# ---------------------------------------------------------------------------------------------
# A readable basis


def rref(B: Tensor, tol: float = 1e-9, min_pivot: float = 1e-2) -> Tensor:
    """Reduced row echelon form of the rows of B (r, n), pivots chosen left to right.

    A pivot must be at least ``min_pivot`` times the largest entry of its row, so that a dense
    generator (a rotation about some axis) is normalised on a large coefficient, not on a tiny one.
    """
    r, n = B.shape
    if r == 0:
        return B.clone()
    scale = B.abs().max().clamp_min(1e-300)
    live = torch.nonzero((B.abs() > tol * scale).any(0)).flatten()  # only columns some row uses
    if len(live) < n:
        out = torch.zeros_like(B)
        sub = rref(B[:, live], tol, min_pivot)
        out = out[: sub.shape[0]]
        out[:, live] = sub
        return out
    A = B.clone()
    pivot_row = 0
    for col in range(n):
        if pivot_row == r:
            break
        sub = A[pivot_row:, col].abs()
        ok = sub >= min_pivot * A[pivot_row:].abs().amax(dim=1)
        sub = torch.where(ok, sub, torch.zeros_like(sub))
        p = int(sub.argmax())
        if sub[p] <= tol * scale:
            continue
        p += pivot_row
        if p != pivot_row:
            A[[pivot_row, p]] = A[[p, pivot_row]]
        A[pivot_row] = A[pivot_row] / A[pivot_row, col]
        others = torch.ones(r, dtype=torch.bool)
        others[pivot_row] = False
        A[others] -= A[others, col : col + 1] * A[pivot_row]
        pivot_row += 1
    A = A[:pivot_row]
    A[A.abs() <= tol * A.abs().amax(dim=1, keepdim=True).clamp_min(1e-300)] = 0.0
    return A


@dataclass
class Piece:
    """Generators found inside one support: raw coefficients C (b, k) over a block's local columns."""

    C: Tensor
    support: str  # the support's name, e.g. 'neuron 1.3', 'layer 2', 'all'


def readable_basis(
    V: Tensor,
    rho: Tensor,
    supports: list[list[tuple[str, Tensor]]],
    trivial: Callable[[Tensor], Tensor],
    relations: Tensor | None = None,
) -> tuple[list[Piece], int]:
    """Split span(V) (orthonormal, scaled coordinates) into generators living in the smallest supports.

    ``supports`` lists levels from fine to coarse (e.g. neurons, then layers); each is a list of
    (name, local column indices). At each level, the vectors of span(V) supported inside one support
    are the right singular vectors of V[support] with singular value 1; what lower levels found is
    projected out. What no support holds is left as 'all'. Vectors whose generator is the zero map
    (``trivial(raw C) -> bool per column``, e.g. 'scale every row of W_2' minus 'scale every column of
    W_2') are dropped and counted. Each piece is put in reduced row echelon form, pivots set to 1.
    """
    found = V[:, :0]
    pieces: list[Piece] = []
    dropped = 0
    for depth, level in enumerate([*supports, [("all", torch.arange(V.shape[0]))]]):
        if depth == 1 and relations is not None and relations.shape[1]:
            rel = relations * rho[:, None]
            rel = rel - found @ (found.T @ rel)
            U, s_rel, _ = torch.linalg.svd(rel, full_matrices=False)
            rel = U[:, s_rel > 1e-8 * float(s_rel.max().clamp_min(1e-300))]
            dropped += rel.shape[1]
            found = torch.cat([found, rel], dim=1)
        for name, cols in level:
            if len(cols) == 0:
                continue
            _, s, Vh = torch.linalg.svd(V[cols], full_matrices=False)
            inside = V @ Vh[s >= 1 - 1e-7].T
            if found.shape[1]:
                inside = inside - found @ (found.T @ inside)
            if inside.shape[1] == 0:
                continue
            U, s2, _ = torch.linalg.svd(inside, full_matrices=False)
            new = U[:, s2 > 1e-6]
            if new.shape[1] == 0:
                continue
            found = torch.cat([found, new], dim=1)
            raw = new / rho[:, None]
            # the finest level's supports hold no relation between candidates (disjoint parameter entries)
            zero = trivial(raw) if depth > 0 or len(supports) == 0 else torch.zeros(raw.shape[1], dtype=torch.bool)
            dropped += int(zero.sum())
            if zero.all():
                continue
            keep = new[:, ~zero]
            R = rref(keep.T)  # scaled coordinates: well conditioned
            C = (R / rho[None, :]).T
            piv = (R.abs() > 0).to(torch.int64).argmax(dim=1)
            C = C / C[piv, torch.arange(C.shape[1])][None, :]
            pieces.append(Piece(C, name))
    return pieces, dropped


def split_parity(C: Tensor, parity: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """Split span(C) into symmetric generators, antisymmetric ones, and the rest (a complement; empty if closed).

    Transposition acts on coefficients as diag(parity): the symmetric generators in span(C) are the
    combinations whose antisymmetric coordinates vanish, and the other way round. The span is closed
    under transposition exactly when the two together have its dimension.
    """
    r = C.shape[1]
    if r == 0:
        return C, C, C
    scale = C.norm(dim=0).clamp_min(1e-300)
    Q, _ = torch.linalg.qr(C / scale)
    parts = []
    for rows in (parity < 0, parity > 0):  # symmetric: kill the antisymmetric coordinates, and vice versa
        Z = Q[rows]
        if Z.shape[0] == 0:
            parts.append(Q)
            continue
        _, s, Vh = torch.linalg.svd(Z, full_matrices=True)
        s_full = torch.zeros(r, dtype=Q.dtype)
        s_full[: len(s)] = s
        parts.append(Q @ Vh.T[:, s_full <= 1e-8])
    sym, anti = parts
    both = torch.cat([sym, anti], dim=1)
    if both.shape[1] >= r:
        return sym, anti, Q[:, :0]
    U, s, _ = torch.linalg.svd(Q.T @ both, full_matrices=True)
    rank = int((s > 1e-8).sum())
    return sym, anti, Q @ U[:, rank:]
