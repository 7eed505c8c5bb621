"""The search: which candidate bases for which sizes, which equations, and the null space they leave.

Bases by size (``SearchOptions``):

=============================== ============================== ==============================================
family                          joined to the joint solve       screened one candidate at a time
=============================== ============================== ==============================================
rescale pieces (every layer)    always (2-4 per neuron)          -
mix, gl(d_h) off the diagonal   d_h <= ``gl_joint_max`` (8)      d_h <= ``gl_max`` (512); wider: left out
input gl(d_x)                   d <= ``gl_joint_max``            d <= ``gl_max``
output gl(d_y)                  d <= ``output_joint_max`` (16)   d <= ``gl_max``
rotation gl(d) (potentials)     d <= ``gl_joint_max``            d <= ``gl_max``
=============================== ============================== ==============================================

A gl(d) family has d^2 candidates: jointly it needs about 3 d^2 equations and a d^2 x d^2 eigenproblem
(for d = 256: 65536 columns, a 34 GB Gram matrix), so wide ones are *screened*: the column of every
candidate comes from one d x d matrix product per row (G_h W_h^T - W_{h+1}^T G_{h+1}), and candidates
whose own column is null are kept. That finds every symmetry the paper lists (a linear layer's whole
gl(d_h), the rotations of a sphere or of the inputs: each basis element is a symmetry by itself) but not
one that only a combination of wide-gl candidates has. The rescale pieces always go to the joint solve:
their symmetries are combinations (1, 1, -1, -p) by nature. When all joint columns exceed ``joint_max``
they are solved per group (a layer pair, the inputs, the outputs), wide groups in chunks of neurons.

Stages: for networks the *model* stage pairs every family with per-sample, per-output gradients (the
symmetries of each sample's loss, which survive SGD); the *data* stage pairs the input family with the
per-sample loss gradients of the whole data set at many points and keeps what is zero within sampling
noise (symmetries of the data, e.g. rotations, which hold only for the whole orbit; searched among
input transformations only, since each equation costs a pass over all samples). Potentials have one
stage of gradients at sampled points. Every generator's residual is measured on held-out points.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import torch
from torch import Tensor
from torch.func import grad, vmap

from noether.discovery.candidates import (
    Family,
    RescaleFamily,
    apply_sum,
    input_family,
    mix_family,
    output_family,
    rotation_family,
)
from noether.discovery.equations import loss_row, sample_points, sample_rows
from noether.discovery.nullspace import (
    Accumulator,
    NoiseAccumulator,
    _ratio,
    held_out,
    noise_null,
    readable_basis,
    scaled_null,
)

FAMILIES = ("rescale", "mix", "input", "output", "rotation")
MIN_EVIDENCE = 8  # equations on which a candidate must meet a gradient before its null column counts


@dataclass
class SearchOptions:
    """Knobs of the search; the module docstring explains each default."""

    points: int = 6  # sampled points w_s of the model stage (w_0 first)
    oversample: float = 3.0  # equations per unknown of the largest joint block
    min_rows: int = 256  # equations of the model stage, at least
    tolerance: float = 1e-5  # exact symmetries: RMS cosine between grad and A w
    data_tolerance: float = 0.05  # data symmetries: RMS cosine of the full-batch gradient with A w ...
    z_max: float = 3.0  # ... and RMS z-score of that pairing against its sampling noise over the samples
    gl_joint_max: int = 8  # a joint gl(d) costs d^2 unknowns, so about 3 d^2 per-sample gradients
    output_joint_max: int = 16  # the softmax shift 1 c^T is a combination: keep 10 classes joint
    gl_max: int = 512
    joint_max: int = 512  # largest block solved as one eigenproblem (rows needed: 3x its size)
    validation_points: int = 2
    validation_rows: int = 256
    screen_rows: int = 16  # rows per point for families screened one candidate at a time (96 in all: plenty to
    # show that a candidate that is no symmetry has a column far from null)
    data_points: int | None = None  # data stage points (None: 2 per unknown, at least 24)
    families: tuple[str, ...] = FAMILIES
    seed: int = 0


@dataclass
class GeneratorSet:
    """Generators over global candidate indices: columns of C (None: each index alone), with residuals."""

    index: Tensor  # global candidate indices
    C: Tensor | None  # (len(index), r) raw coefficients; None: unit vectors
    residual: Tensor  # (r,) held-out residual: RMS cosine between grad and A w
    level: str  # model | data | potential
    support: str  # where it lives: 'neuron h.i', 'layer h', 'inputs', 'all', ...
    zscore: Tensor | None = None  # (r,) data stage: held-out RMS z-score

    @property
    def count(self) -> int:
        return len(self.index) if self.C is None else self.C.shape[1]

    def take(self, cols: Tensor) -> GeneratorSet:
        z = None if self.zscore is None else self.zscore[cols]
        if self.C is None:
            return GeneratorSet(self.index[cols], None, self.residual[cols], self.level, self.support, z)
        C = self.C[:, cols]
        used = C.abs().sum(1) > 0
        return GeneratorSet(self.index[used], C[used], self.residual[cols], self.level, self.support, z)


@dataclass
class Found:
    """What the search found: generator sets, the families they live in, and how it was done."""

    families: list[Family]
    offsets: list[int]
    sets: list[GeneratorSet]
    tolerance: float
    z_max: float | None
    equations: dict[str, int]
    notes: list[str]
    timing: dict[str, float]
    gap: dict[str, float | None] = field(default_factory=dict)  # smallest rejected residual, per stage
    data_tolerance: float | None = None
    trivial: int = 0  # null vectors dropped because their generator is the zero map

    @property
    def n(self) -> int:
        return self.offsets[-1]

    @property
    def parity(self) -> Tensor:
        return torch.cat([f.parity for f in self.families]) if self.families else torch.zeros(0)

    def locate(self, j: int) -> tuple[Family, int]:
        """The family of global candidate j and j's index inside it."""
        for f, start, stop in zip(self.families, self.offsets[:-1], self.offsets[1:], strict=True):
            if start <= j < stop:
                return f, j - start
        raise IndexError(j)

    def split(self, index: Tensor) -> list[tuple[int, Tensor, Tensor]]:
        """Global indices -> [(family k, positions in ``index``, local indices)]."""
        out = []
        for k, (start, stop) in enumerate(zip(self.offsets[:-1], self.offsets[1:], strict=True)):
            sel = torch.nonzero((index >= start) & (index < stop)).flatten()
            if len(sel):
                out.append((k, sel, index[sel] - start))
        return out

    def pairings(self, w, g, index: Tensor) -> Tensor:
        """<g_s, A_j w> for the candidates ``index`` only (S, len(index)), touching only their families."""
        S = g[0].shape[0]
        out = torch.zeros(S, len(index), dtype=torch.float64)
        for k, pos, local in self.split(index):
            out[:, pos] = self.families[k].pairings(w, g)[:, local].to(torch.float64).cpu()
        return out

    def terms(self, w, g, index: Tensor) -> Tensor:
        """The elementary terms of the pairings of ``index`` (S, len(index), t), zero-padded to a common t."""
        S = g[0].shape[0]
        parts = [(pos, self.families[k].terms(w, g)[:, local]) for k, pos, local in self.split(index)]
        t = max([p.shape[-1] for _, p in parts], default=1)
        out = torch.zeros(S, len(index), t, dtype=torch.float64)
        for pos, p in parts:
            out[:, pos, : p.shape[-1]] = p.to(torch.float64).cpu()
        return out

    def action(self, index: Tensor, C: Tensor | None, w) -> list:
        """A w for each generator: a list over generators of parameter lists (use for small counts)."""
        gens = []
        r = len(index) if C is None else C.shape[1]
        for col in range(r):
            pieces = []
            for k, pos, local in self.split(index):
                fam = self.families[k]
                coeffs = torch.zeros(fam.size, dtype=torch.float64)
                coeffs[local] = 1.0 * (pos == col) if C is None else C[pos, col]
                pieces.append(fam.apply(coeffs, w))
            gens.append(apply_sum(pieces, w))
        return gens


# ---------------------------------------------------------------------------------------------


def candidate_families(problem, opts: SearchOptions) -> tuple[list[Family], list[bool], list[str]]:
    """The families for this problem, whether each joins the joint solve, and notes on what was left out."""
    st = problem.structure
    fams: list[Family] = []
    joint: list[bool] = []
    notes: list[str] = []
    unknown = set(opts.families) - set(FAMILIES)
    if unknown:
        raise ValueError(f"unknown candidate families {sorted(unknown)} (allowed: {', '.join(FAMILIES)})")

    def add_gl(make, d: int, what: str, limit: int | None = None) -> None:
        if d > opts.gl_max:
            notes.append(f"{what}: gl({d}) has {d * d} candidates, over gl_max = {opts.gl_max}; left out")
            return
        limit = opts.gl_joint_max if limit is None else limit
        fams.append(make())
        joint.append(d <= limit)
        if d > limit:
            notes.append(f"{what}: gl({d}) screened candidate by candidate (d > {limit}, the joint limit)")

    want = set(opts.families)
    if problem.model_fn is None:
        if "rotation" in want:
            add_gl(lambda: rotation_family(st), st.shapes[0][0], "rotations of w")
        return fams, joint, notes
    K = st.depth
    for h in range(1, K):
        if "rescale" in want:
            fams.append(RescaleFamily(st, h))
            joint.append(True)
        if "mix" in want:
            add_gl(lambda h=h: mix_family(st, h), st.layer(h).fan_out, f"layer {h}")
    if "input" in want:
        add_gl(lambda: input_family(st), st.layer(1).fan_in, "inputs")
    if "output" in want:
        add_gl(lambda: output_family(st), st.layer(K).fan_out, "outputs", opts.output_joint_max)
    return fams, joint, notes


def group_of(f: Family) -> str:
    """The group a family's generators are reported under: 'layer h', 'inputs', 'outputs', 'potential'."""
    if f.name in ("rescale", "mix"):
        return f"layer {f.layer}"
    return {"input": "inputs", "output": "outputs", "rotation": "potential"}[f.name]


def make_blocks(fams: list[Family], joint: list[bool], offsets: list[int], joint_max: int) -> tuple[list[Tensor], str]:
    """Joint columns as one block if small enough, else one per group, wide groups cut into chunks of neurons."""
    cols = [torch.arange(offsets[k], offsets[k + 1]) for k, j in enumerate(joint) if j]
    if not cols:
        return [], "none"
    everything = torch.cat(cols)
    if len(everything) <= joint_max:
        return [everything], "joint"
    groups: dict[str, list[int]] = {}
    for k, f in enumerate(fams):
        if joint[k]:
            groups.setdefault(group_of(f), []).append(k)
    blocks = []
    how = "per group"
    for ks in groups.values():
        idx = torch.cat([torch.arange(offsets[k], offsets[k + 1]) for k in ks])
        if len(idx) <= joint_max:
            blocks.append(idx)
            continue
        how = "per group, wide groups in chunks of neurons"
        owner = torch.cat([fams[k].owner for k in ks])
        per = max(1, joint_max // max(1, int(torch.bincount(owner).max())))
        for start in range(0, int(owner.max()) + 1, per):
            blocks.append(idx[(owner >= start) & (owner < start + per)])
    return blocks, how


def _supports(fams: list[Family], offsets: list[int], block: Tensor) -> list[list[tuple[str, Tensor]]]:
    """Support levels inside a block, fine to coarse: per neuron (rescale), per group."""
    pos = {int(j): k for k, j in enumerate(block.tolist())}
    neurons: list[tuple[str, Tensor]] = []
    groups: dict[str, list[int]] = {}
    for k, f in enumerate(fams):
        local = [pos[j] for j in range(offsets[k], offsets[k + 1]) if j in pos]
        if not local:
            continue
        groups.setdefault(group_of(f), []).extend(local)
        if f.name == "rescale":
            owners = f.owner[torch.tensor([j - offsets[k] for j in range(offsets[k], offsets[k + 1]) if j in pos])]
            loc = torch.tensor(local)
            for i in owners.unique().tolist():
                neurons.append((f"neuron {f.layer}.{i}", loc[owners == i]))
    return [neurons, [(name, torch.tensor(cols)) for name, cols in groups.items()]]


def all_pairings(fams: list[Family], w, g, active: list[bool] | None = None):
    """(P, R, cols): pairings and bounds of the active families (all by default), and their global columns."""
    Ps, Rs, cols = [], [], []
    start = 0
    for k, f in enumerate(fams):
        if active is None or active[k]:
            Ps.append(f.pairings(w, g))
            Rs.append(f.scales(w, g))
            cols.append(torch.arange(start, start + f.size))
        start += f.size
    everything = active is None or all(active)
    return torch.cat(Ps, dim=1), torch.cat(Rs, dim=1), (None if everything else torch.cat(cols))


def _chunk(width: int) -> int:
    """Rows per vmapped pass: about 2e7 numbers of per-sample gradients or pairings at a time."""
    return int(max(8, min(4096, 2e7 // max(1, width))))


# ---------------------------------------------------------------------------------------------


def search(problem, opts: SearchOptions) -> Found:
    """Algorithm 1's search for a problem built in float64 (see the module docstring)."""
    timing: dict[str, float] = {}
    t0 = time.perf_counter()
    fams, joint, notes = candidate_families(problem, opts)
    offsets = [0]
    for f in fams:
        offsets.append(offsets[-1] + f.size)
    N = offsets[-1]
    blocks, how = make_blocks(fams, joint, offsets, opts.joint_max)
    if how not in ("joint", "none"):
        notes.append(f"joint solve split {how} ({len(blocks)} blocks): combinations across blocks are not searched")
    gen = torch.Generator().manual_seed(opts.seed * 7919 + 17)
    found = Found(fams, offsets, [], opts.tolerance, None, {}, notes, timing)
    if N == 0:
        notes.append("no candidate family applies")
        return found
    is_net = problem.model_fn is not None
    level = "model" if is_net else "potential"
    keep = torch.cat(blocks) if blocks else torch.zeros(0, dtype=torch.long)

    t = time.perf_counter()
    if is_net:
        biggest = max([len(b) for b in blocks], default=0)
        total = max(int(math.ceil(opts.oversample * biggest)), opts.min_rows)
        pts = sample_points(problem, opts.points, gen)
        acc = _model_rows(problem, fams, joint, Accumulator(N, blocks), pts, total, gen, opts.screen_rows)
        vpts = sample_points(problem, opts.validation_points + 1, gen)[1:]
        val = _model_rows(problem, fams, joint, Accumulator(N, keep=keep), vpts, opts.validation_rows, gen, opts.screen_rows)
    else:
        biggest = max([len(b) for b in blocks], default=0)
        n_pts = max(int(math.ceil(opts.oversample * biggest)), 8 * opts.points, 32)
        acc = _loss_rows(problem, fams, Accumulator(N, blocks), sample_points(problem, n_pts, gen))
        vpts = sample_points(problem, opts.validation_rows // 4 + 1, gen)[1:]
        val = _loss_rows(problem, fams, Accumulator(N, keep=keep), vpts)
    found.equations[level] = acc.rows
    timing["equations_s"] = time.perf_counter() - t

    t = time.perf_counter()
    w_probe = sample_points(problem, 2, gen)[1]
    sets, found.gap[level], found.trivial = _solve_exact(acc, val, found, blocks, opts.tolerance, level, w_probe)
    timing["solve_s"] = time.perf_counter() - t

    names = [f.name for f in fams]
    if is_net and "input" in names:
        t = time.perf_counter()
        k = names.index("input")
        start, stop = offsets[k], offsets[k + 1]
        sets = [_drop_within(s, start, stop) for s in sets]
        data_sets, found.gap["data"], found.equations["data"] = _data_stage(problem, found, k, joint[k], acc, opts, gen)
        sets += data_sets
        found.z_max = opts.z_max
        found.data_tolerance = opts.data_tolerance
        timing["data_stage_s"] = time.perf_counter() - t
    found.sets = [s for s in sets if s.count > 0]
    timing["total_s"] = time.perf_counter() - t0
    return found


def _model_rows(problem, fams, joint, acc: Accumulator, pts, total: int, gen, screen_rows: int) -> Accumulator:
    """Per-sample, per-output rows, spread evenly over the points.

    Families that are only screened (not joint) need no more than ``screen_rows`` rows per point to show
    that a candidate's own column is not null; their wide pairings are skipped after that.
    """
    per_point = int(math.ceil(total / len(pts)))
    chunk = _chunk(max(acc.n, _size(problem)))
    if not all(joint):
        chunk = min(chunk, screen_rows)
    for w in pts:
        seen = 0
        for g in sample_rows(problem, w, per_point, gen, chunk=chunk):
            active = [j or seen < screen_rows for j in joint]
            P, R, cols = all_pairings(fams, w, g, active)
            acc.add(P, R, cols)
            seen += g[0].shape[0]
    return acc


def _loss_rows(problem, fams, acc: Accumulator, pts) -> Accumulator:
    for w in pts:
        P, R, _ = all_pairings(fams, w, loss_row(problem, w))
        acc.add(P, R)
    return acc


def _trivial_test(found: Found, block: Tensor, w) -> callable:
    """Columns (raw coefficients over ``block``) whose generator is the zero map at a generic point."""

    unit_norms = torch.zeros(len(block), dtype=torch.float64)
    for k, pos, local in found.split(block):
        unit_norms[pos] = found.families[k].norms(w)[local].to(torch.float64).cpu()

    def trivial(C: Tensor) -> Tensor:
        out = torch.zeros(C.shape[1], dtype=torch.bool)
        for col in range(C.shape[1]):
            Aw = found.action(block, C[:, col : col + 1], w)[0]
            size = torch.sqrt(sum((t * t).sum() for t in Aw))
            out[col] = float(size) <= 1e-9 * float((C[:, col].abs() * unit_norms).sum())
        return out

    return trivial


def _solve_exact(acc: Accumulator, val: Accumulator, found: Found, blocks, tol: float, level: str, w_probe):
    """Singles, then each block's null space in a readable basis; what fails on held-out rows is dropped."""
    res = acc.residuals()
    val_res = val.residuals()
    inert = acc.evidence < MIN_EVIDENCE  # the gradient (almost) never touched what it moves: no evidence
    single = (res <= tol) & ~inert
    sets: list[GeneratorSet] = []
    rejected = [float(res[~single & ~inert].min())] if (~single & ~inert).any() else []
    if inert.any():
        found.notes.append(
            f"{level} stage: {int(inert.sum())} candidate(s) met a gradient on fewer than {MIN_EVIDENCE} equations "
            "(dead inputs or neurons at the sampled points): not counted as symmetries"
        )
    failed = int((single & (val_res > tol)).sum())
    idx = torch.nonzero(single & (val_res <= tol)).flatten()
    for k, pos, _ in found.split(idx):
        sub = idx[pos]
        sets.append(GeneratorSet(sub, None, val_res[sub], level, group_of(found.families[k])))
    trivial_count = 0
    kept_rows = torch.cat(val.kept) if val.kept else None
    kept_pos = {int(j): k for k, j in enumerate(val.keep.tolist())} if val.keep is not None else {}
    for block in blocks:
        block = block[~single[block]]
        rho = acc.rho[block]
        block, rho = block[rho > 0], rho[rho > 0]
        if len(block) == 0:
            continue
        V, sigma = scaled_null(_gram(acc, blocks, block), rho, tol)
        above = sigma[sigma > tol]
        if len(above):
            rejected.append(float(above.min()))
        if V.shape[1] == 0:
            continue
        # held-out rows: keep the part of the null space that holds there too
        Pv = kept_rows[:, [kept_pos[int(j)] for j in block.tolist()]]
        C, _, _ = held_out(V / rho[:, None], Pv.T @ Pv, val.scale_sq[block], tol)
        failed += V.shape[1] - C.shape[1]
        if C.shape[1] == 0:
            continue
        W, _ = torch.linalg.qr(C * rho[:, None])
        supports = _supports(found.families, found.offsets, block)
        pieces, dropped = readable_basis(W, rho, supports, _trivial_test(found, block, w_probe), relations(found, block))
        trivial_count += dropped
        for piece in pieces:
            used = piece.C.abs().sum(1) > 0
            index, Cp = block[used], piece.C[used]
            sets.append(GeneratorSet(index, Cp, val.residual_of(index, Cp), level, piece.support))
    if failed:
        found.notes.append(f"{level} stage: {failed} generator(s) null on the search points failed on held-out points; dropped")
    return sets, (min(rejected) if rejected else None), trivial_count


def relations(found: Found, block: Tensor) -> Tensor:
    """The linear relations among a block's candidates: 'scale the rows of W_h' = 'scale its columns'.

    Diagonal candidates act on whole rows or columns of a weight matrix. Where the rows of W_h are all
    candidates acting on W_h alone (rescale rows of layer h, or the output diagonal without output
    bias) and so are its columns (rescale columns of layer h-1, or the input diagonal), the sum of
    one side equals the sum of the other: one relation per such W_h. Only the diagonal pieces overlap.
    """
    pos = {int(j): k for k, j in enumerate(block.tolist())}
    rows: dict[int, list[int]] = {}
    cols: dict[int, list[int]] = {}
    pure_rows: dict[int, bool] = {}
    for f, start in zip(found.families, found.offsets[:-1], strict=True):
        if f.name not in ("rescale", "input", "output"):
            continue
        for j, c in enumerate(f.candidates):
            g = start + j
            if f.name == "rescale" and c.piece == "row":
                rows.setdefault(f.layer, []).append(g)
                pure_rows[f.layer] = True
            elif f.name == "rescale" and c.piece == "col":
                cols.setdefault(f.layer + 1, []).append(g)
            elif f.name == "input" and c.piece == "diag":
                cols.setdefault(1, []).append(g)
            elif f.name == "output" and c.piece == "diag":
                rows.setdefault(f.layer, []).append(g)
                pure_rows[f.layer] = len(f.actions) == 1  # no output bias
    out = []
    for h, r in rows.items():
        c = cols.get(h, [])
        if not pure_rows.get(h) or not c or not all(j in pos for j in r + c):
            continue
        v = torch.zeros(len(block), dtype=torch.float64)
        v[[pos[j] for j in r]] = 1.0
        v[[pos[j] for j in c]] = -1.0
        out.append(v)
    return torch.stack(out, dim=1) if out else torch.zeros(len(block), 0, dtype=torch.float64)


def _gram(acc: Accumulator, blocks, cols: Tensor) -> Tensor:
    """The Gram matrix of the columns ``cols`` (all inside one block)."""
    for b, G in zip(blocks, acc.grams, strict=True):
        pos = {int(j): k for k, j in enumerate(b.tolist())}
        if all(int(j) in pos for j in cols.tolist()):
            sel = torch.tensor([pos[int(j)] for j in cols.tolist()], dtype=torch.long)
            return G[sel][:, sel]
    raise ValueError("columns span several blocks")


def _drop_within(s: GeneratorSet, start: int, stop: int) -> GeneratorSet:
    """Remove the generators living entirely in [start, stop) (the data stage finds them again)."""
    inside = (s.index >= start) & (s.index < stop)
    if s.C is None:
        return s.take(torch.nonzero(~inside).flatten())
    return s.take(torch.nonzero(s.C[~inside].abs().sum(0) > 0).flatten())


# ---------------------------------------------------------------------------------------------
# The data stage


def per_sample_loss_grads(problem):
    """A function (params, x_batch, y_batch) -> per-sample gradients of the loss, via torch.func."""
    from noether.models.losses import LOSSES

    f = problem.model_fn
    criterion = LOSSES[problem.spec.loss]

    def one(params, x, y):
        return criterion(f(params, x[None]), y[None])

    return vmap(grad(one), in_dims=(None, 0, 0))


def _data_stage(problem, found: Found, k: int, joint: bool, model_acc: Accumulator, opts, gen):
    """Full-data rows for the input family: small (cosine <= data_tolerance) and within sampling noise (z <= z_max)."""
    fam = found.families[k]
    start = found.offsets[k]
    n = fam.size
    per_sample = per_sample_loss_grads(problem)
    n_pts = opts.data_points or (max(int(math.ceil(opts.oversample * n)), 24) if joint else 12)
    acc = _noise_rows(problem, fam, NoiseAccumulator(n, joint), sample_points(problem, n_pts, gen), per_sample)
    vpts = sample_points(problem, max(6, n_pts // 3) + 1, gen)[1:]
    val = _noise_rows(problem, fam, NoiseAccumulator(n, joint), vpts, per_sample)
    tol, z_max = opts.data_tolerance, opts.z_max
    cos, z = acc.cosines(), acc.zscores()
    single = (cos <= tol) & (z <= z_max) & (acc.scale_sq > 0)
    rejected = [float(cos[~single].min())] if (~single).any() else []
    cos_val, z_val = val.cosines(), val.zscores()
    holds = (cos_val <= tol) & (z_val <= z_max)
    failed = int((single & ~holds).sum())
    exact = model_acc.residuals()[start : start + n] <= opts.tolerance
    sets: list[GeneratorSet] = []
    for flag, lvl in ((single & holds & exact, "model"), (single & holds & ~exact, "data")):
        idx = torch.nonzero(flag).flatten()
        if len(idx):
            sets.append(GeneratorSet(idx + start, None, cos_val[idx], lvl, "inputs", z_val[idx]))
    rest = torch.nonzero(~single).flatten()
    if joint and len(rest):
        rho = acc.scale_sq[rest].sqrt()
        rest, rho = rest[rho > 0], rho[rho > 0]
        A, B = acc.A[rest][:, rest], acc.B[rest][:, rest]
        V, sigma = scaled_null(A, rho, tol)
        above = sigma[sigma > tol]
        if len(above):
            rejected.append(float(above.min()))
        C = V / rho[:, None]
        if C.shape[1]:
            Y, _ = noise_null(C.T @ A @ C, C.T @ B @ C, z_max)
            C = C @ Y
        found_here = C.shape[1]
        C, _, _ = held_out(C, val.A[rest][:, rest], val.scale_sq[rest], tol, val.B[rest][:, rest], z_max)
        failed += found_here - C.shape[1]
        if C.shape[1]:
            W, _ = torch.linalg.qr(C * rho[:, None])
            pieces, _ = readable_basis(W, rho, [], lambda c: torch.zeros(c.shape[1], dtype=torch.bool))
            for piece in pieces:
                full = torch.zeros(n, piece.C.shape[1], dtype=torch.float64)
                full[rest] = piece.C
                used = torch.nonzero(full.abs().sum(1) > 0).flatten()
                cosp = _ratio(full, val.A, val.scale_sq)
                sets.append(GeneratorSet(used + start, full[used], cosp, "data", "inputs", val.zscore_of(full)))
    if failed:
        found.notes.append(f"data stage: {failed} generator(s) found on the search points failed on held-out points; dropped")
    return sets, (min(rejected) if rejected else None), acc.points


def _size(problem) -> int:
    return sum(p.numel() for p in problem.params)


def _noise_rows(problem, fam: Family, acc: NoiseAccumulator, pts, per_sample) -> NoiseAccumulator:
    """Per-sample loss gradients of the whole data set at each point; several points per vmapped pass when small."""
    x, y = problem.inputs, problem.targets
    n = problem.n_samples
    m = _size(problem)
    chunk = _chunk(max(fam.size, m))
    per_pass = max(1, int(2e7 // max(1, n * max(m, fam.size))))
    if n <= chunk and per_pass > 1:
        over_points = vmap(per_sample, in_dims=(0, None, None))
        for s in range(0, len(pts), per_pass):
            group = pts[s : s + per_pass]
            stacked = [torch.stack(ts) for ts in zip(*group, strict=True)]
            grads = over_points(stacked, x, y)
            for b, w in enumerate(group):
                g = [t[b] for t in grads]
                full = [t.mean(0, keepdim=True) for t in g]
                acc.add_point(fam.pairings(w, g), fam.scales(w, full)[0])
        return acc
    for w in pts:
        params = list(w)
        parts = []
        total = [torch.zeros_like(p) for p in params]
        for s in range(0, n, chunk):
            g = per_sample(params, x[s : s + chunk], y[s : s + chunk])
            parts.append(fam.pairings(w, g))
            for t, gi in zip(total, g, strict=True):
                t += gi.sum(0)
        full = [(t / n)[None] for t in total]
        acc.add_point(torch.cat(parts), fam.scales(w, full)[0])
    return acc
