"""From generators to laws (Algorithm 1, step 3): split by transposition, name, compare with the catalogue.

For a generator xi(w) = A w with <grad L(w), A w> = 0 for all w:

- A symmetric: Q = w^T A w / 2 is conserved under gradient flow, since dQ/dt = <w', A w> = -<grad L, A w> = 0;
- A antisymmetric: J = w'^T A w is conserved under Newtonian dynamics, since dJ/dt = <w'', A w> + w'^T A w'
  = -<grad L, A w> + 0 (under GF, J = -<grad L, A w> = 0; under NAGF, J decays as t^-3);
- any A: the residual law <E(t, w, w', w''), A w> = 0 for E = -grad L, whatever the dynamics.

The found space is split into symmetric generators, antisymmetric ones and (where it is not closed under
transposition) the rest, which gives only residual laws. Quadratic forms w^T A w of linearly independent
symmetric A are linearly independent functions, so each symmetric basis generator is one independent
quantity (likewise for charges). Every quantity is evaluated through the families' pairings:
w^T A_j w = <w, A_j w> is ``pairings(w, g = w)``, w'^T A_j w is ``pairings(w, g = w')``.

Laws are grouped where their generators live (a layer pair, the inputs, the outputs, the potential) and
named after the catalogue law of this spec they coincide with (``balance/h2``, ``linear_balance/h1``,
``angular_momentum``, ``translation`` for the softmax shift's one symmetric combination 1 1^T); anything else
is flagged *new* (the antisymmetric charges of a linear layer, a dead input, ...).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import Tensor

from noether.discovery.nullspace import rref, split_parity
from noether.discovery.result import DiscoveredLaw, GeneratorBlock
from noether.discovery.search import Found, GeneratorSet

MAX_BLOCK = 32  # rows / columns of a displayed matrix
MAX_GENERATOR_BLOCKS = 6  # individual generator matrices shown per law


@dataclass
class LawPlan:
    """A discovered law with the generators it is made of (internal; ``info`` is what the result shows)."""

    info: DiscoveredLaw
    sets: list[GeneratorSet] = field(default_factory=list)


def group_name(support: str) -> str:
    """'neuron 2.7' -> 'layer 2'; other supports are already group names ('all' -> 'across groups')."""
    if support.startswith("neuron "):
        return f"layer {support.split()[1].split('.')[0]}"
    return "across groups" if support == "all" else support


def _slug(group: str, level: str) -> str:
    base = group.replace("layer ", "layer").replace("across groups", "across")
    return base + ("~data" if level == "data" else "")


def split_by_parity(found: Found, s: GeneratorSet) -> dict[str, GeneratorSet]:
    """{'symmetric', 'antisymmetric', 'mixed'} parts of a generator set (empty parts left out)."""
    par = found.parity[s.index]
    out: dict[str, GeneratorSet] = {}
    if s.C is not None and (par > 0).all():  # e.g. one neuron's rescaling: symmetric already
        return {"symmetric": s}
    if s.C is not None and (par < 0).all():
        return {"antisymmetric": s}
    if s.C is None:
        for name, mask in (("symmetric", par > 0), ("antisymmetric", par < 0)):
            cols = torch.nonzero(mask).flatten()
            if len(cols):
                out[name] = s.take(cols)
        return out
    sym, anti, rest = split_parity(s.C, par)
    for name, C in (("symmetric", sym), ("antisymmetric", anti), ("mixed", rest)):
        if C.shape[1] == 0:
            continue
        R = rref(C.T)
        piv = (R.abs() > 0).to(torch.int64).argmax(dim=1)
        R = R / R[torch.arange(R.shape[0]), piv][:, None]
        used = R.abs().sum(0) > 0
        res = _residual_like(s, C.shape[1])
        z = None if s.zscore is None else s.zscore.max().expand(C.shape[1]).clone()
        out[name] = GeneratorSet(s.index[used], R.T[used], res, s.level, s.support, z)
    return out


def _residual_like(s: GeneratorSet, r: int) -> Tensor:
    """Residuals after a change of basis inside a set: the set's largest (a bound for any combination's scale)."""
    value = s.residual.max() if len(s.residual) else torch.tensor(0.0, dtype=torch.float64)
    return value.expand(r).clone()


# ---------------------------------------------------------------------------------------------


def make_laws(found: Found, structure, catalogue_ids: set[str]) -> list[LawPlan]:
    """Group, split and name the found generators; see the module docstring."""
    buckets: dict[tuple[str, str], dict[str, list[GeneratorSet]]] = {}
    for s in found.sets:
        key = (group_name(s.support), s.level)
        parts = split_by_parity(found, s)
        bucket = buckets.setdefault(key, {"symmetric": [], "antisymmetric": [], "mixed": []})
        for name, part in parts.items():
            bucket[name].append(part)
    plans: list[LawPlan] = []
    for (group, level), bucket in sorted(buckets.items(), key=lambda kv: _order(kv[0])):
        slug = _slug(group, level)
        sym, anti, mixed = bucket["symmetric"], bucket["antisymmetric"], bucket["mixed"]
        if sym:
            plans.append(_quantity(found, structure, group, level, slug, sym, catalogue_ids))
        if anti:
            plans.append(_charge(found, structure, group, level, slug, anti, catalogue_ids))
        everything = sym + anti + mixed
        plans.append(_residual(found, group, level, slug, everything, mixed))
    return plans


def _order(key: tuple[str, str]) -> tuple[int, str]:
    group, level = key
    rank = {"inputs": 100, "outputs": 101, "potential": 0, "across groups": 200}
    if group.startswith("layer "):
        return int(group.split()[1]), level
    return rank.get(group, 300), level


def _count(sets: list[GeneratorSet]) -> int:
    return sum(s.count for s in sets)


def _max_res(sets: list[GeneratorSet]) -> float:
    vals = [float(s.residual.max()) for s in sets if s.count]
    return max(vals) if vals else 0.0


def _max_z(sets: list[GeneratorSet]) -> float | None:
    vals = [float(s.zscore.max()) for s in sets if s.zscore is not None and s.count]
    return max(vals) if vals else None


def _families(found: Found, sets: list[GeneratorSet]) -> set[str]:
    names = set()
    for s in sets:
        for k, _, _ in found.split(s.index):
            names.add(found.families[k].name)
    return names


def _level_text(level: str) -> str:
    return {
        "model": "every sample's loss is invariant (holds under SGD too)",
        "data": "only the whole data set's loss is (approximately) invariant: needs the whole orbit",
        "potential": "the potential is invariant",
    }[level]


# ---------------------------------------------------------------------------------------------


def neuron_coefficients(found: Found, sets: list[GeneratorSet]) -> tuple[dict[str, float], float] | None:
    """If every generator is one neuron's rescaling, the mean coefficient per piece (row = 1) and the spread."""
    rows: list[dict[str, float]] = []
    for s in sets:
        if not s.support.startswith("neuron ") or s.C is None or s.count != 1:
            return None
        coef: dict[str, float] = {}
        for j, c in zip(s.index.tolist(), s.C[:, 0].tolist(), strict=True):
            fam, local = found.locate(j)
            coef[fam.candidates[local].piece] = c
        if "row" not in coef or coef["row"] == 0:
            return None
        rows.append({k: v / coef["row"] for k, v in coef.items()})
    if not rows:
        return None
    keys = sorted({k for r in rows for k in r}, key=["row", "bias", "beta", "col"].index)
    mean = {k: sum(r.get(k, 0.0) for r in rows) / len(rows) for k in keys}
    spread = max(abs(r.get(k, 0.0) - mean[k]) for r in rows for k in keys)
    return mean, spread


def expected_coefficients(structure, h: int) -> dict[str, float] | None:
    """The paper's per-neuron rescaling of layer h (Tables 2-3): row 1, bias 1, beta -1, col -p; None if none."""
    layer = structure.layer(h)
    kind = getattr(layer.activation, "kind", None)
    p = layer.homogeneity
    if kind == "swish":
        if not layer.trainable_beta:
            return None
        p = 1.0
    if p is None:
        return None
    out = {"row": 1.0}
    if layer.bias:
        out["bias"] = 1.0
    if layer.trainable_beta:
        out["beta"] = -1.0
    out["col"] = -float(p)
    return out


def _coef_text(h: int, coef: dict[str, float]) -> str:
    labels = {"row": f"|W_{h}[i,:]|^2", "bias": f"b_{h}[i]^2", "beta": f"beta_{h}[i]^2", "col": f"|W_{h + 1}[:,i]|^2"}
    out = ""
    for k in ("row", "bias", "beta", "col"):
        if k not in coef or abs(coef[k]) < 1e-12:
            continue
        c = coef[k]
        mag = "" if abs(abs(c) - 1) < 1e-9 else f"{abs(c):.4g} "
        sign = "-" if c < 0 else "+"
        out += f"{'' if not out and sign == '+' else ' ' + sign + ' ' if out else '-'}{mag}{labels[k]}"
    return out.strip()


def translation_generator(found: Found, sets: list[GeneratorSet]) -> GeneratorSet | None:
    """The softmax shift's one symmetric generator as exactly E = 1 1^T on the outputs, or None if ``sets`` is not it.

    The search returns some basis of the found space: the symmetric generator of the outputs comes as
    alpha 1 1^T + beta I on the outputs plus pieces of the layers' rescalings (and zero maps), all symmetries
    found on their own. When its output part has that form (every S_ab with one nonzero coefficient, every E_aa
    with one coefficient, no antisymmetric part), the generator is replaced by 1 1^T alone, whose quantity
    w^T A w / 2 = |s|^2 / 2 (s the sums over classes) is the catalogue's translation law (``noether.laws.translation``).
    Only called where that law applies (a network with the cross-entropy loss): there 1 1^T is a symmetry."""
    if _count(sets) != 1:
        return None
    diag: dict[int, float] = {}
    sym: dict[tuple[int, int], float] = {}
    family, k_out = None, None
    for s in sets:
        if s.C is None:
            return None
        for k, pos, local in found.split(s.index):
            fam = found.families[k]
            if fam.name != "output":
                continue
            if family is not None and k != k_out:
                return None
            family, k_out = fam, k
            for j, c in zip(local.tolist(), s.C[pos, 0].tolist(), strict=True):
                cand = fam.candidates[j]
                if cand.piece == "anti" and abs(c) > 0:
                    return None
                if cand.piece == "diag":
                    diag[cand.i] = diag.get(cand.i, 0.0) + c
                elif cand.piece == "sym":
                    sym[(cand.i, cand.j)] = sym.get((cand.i, cand.j), 0.0) + c
    if family is None or family.d < 2:
        return None
    d = family.d
    pairs = [(a, b) for a in range(d) for b in range(a + 1, d)]
    alpha = [sym.get(p, 0.0) for p in pairs]
    beta = [diag.get(a, 0.0) for a in range(d)]
    scale = max(abs(v) for v in alpha + beta)
    if abs(alpha[0]) <= 1e-6 * scale or max(abs(v - alpha[0]) for v in alpha) > 1e-6 * scale:
        return None
    if max(abs(v - beta[0]) for v in beta) > 1e-6 * scale:
        return None
    local = [j for j, c in enumerate(family.candidates) if c.piece in ("diag", "sym")]
    index = torch.tensor(local, dtype=torch.long) + found.offsets[k_out]
    C = torch.ones(len(local), 1, dtype=torch.float64)
    first = sets[0]
    return GeneratorSet(index, C, _residual_like(first, 1), first.level, first.support,
                        None if first.zscore is None else first.zscore.max().expand(1).clone())


def _quantity(found, structure, group, level, slug, sets, catalogue_ids) -> LawPlan:
    count = _count(sets)
    fams = _families(found, sets)
    matches: list[str] = []
    coefficients = spread = None
    note = None
    name = f"w^T A w / 2 for {count} symmetric generator(s) of {group}"
    symmetry = f"symmetric generators on {group}"
    if group.startswith("layer ") and level == "model":
        h = int(group.split()[1])
        d = structure.layer(h).fan_out
        kind = getattr(structure.layer(h).activation, "kind", "?")
        per_neuron = neuron_coefficients(found, sets)
        if "mix" in fams and count == d * (d + 1) // 2:
            bias = f" + b_{h} b_{h}^T" if structure.layer(h).bias else ""
            name = f"W_{h} W_{h}^T{bias} - W_{h + 1}^T W_{h + 1}: all {count} entries of the balance matrix"
            symmetry = f"GL({d}) between layers {h} and {h + 1}: W_{h} -> g W_{h}, W_{h + 1} -> W_{h + 1} g^-1 ({kind})"
            matches = [i for i in (f"linear_balance/h{h}", f"balance/h{h}") if i in catalogue_ids]
            if bias:
                note = "with biases the balance matrix gains b_h b_h^T (Table 4 has none)"
        elif per_neuron is not None:
            coefficients, spread = per_neuron
            name = "per neuron i: " + _coef_text(h, coefficients)
            symmetry = f"rescaling of each neuron of layer {h} ({kind})"
            expected = expected_coefficients(structure, h)
            agrees = expected is not None and set(expected) == {k for k, v in coefficients.items() if abs(v) > 1e-9}
            agrees = agrees and all(abs(coefficients.get(k, 0.0) - v) <= 1e-6 * max(1.0, abs(v)) for k, v in expected.items())
            if agrees and count == d and f"balance/h{h}" in catalogue_ids:
                matches = [f"balance/h{h}"]
            elif agrees and count < d:
                note = f"{count} of {d} neurons: the others show no rescaling symmetry at the sampled points"
            elif not agrees:
                note = "coefficients differ from the paper's (Tables 2-3)" if expected else "the catalogue expects none here"
    elif group == "potential" and level == "potential":
        symmetry = "symmetric linear maps w -> A w leaving L invariant"
    elif group == "outputs":
        symmetry = "shift of all logits by the same amount (log-softmax is invariant)"
        name = f"w^T A w / 2 for the {count} symmetric combination(s) of the softmax shift: |1^T W_K|^2 (+ (1^T b_K)^2)"
        clean = translation_generator(found, sets) if level == "model" and "translation" in catalogue_ids else None
        if clean is not None:
            sets = [clean]
            K = structure.depth
            bias = structure.b(K) is not None
            name = (f"|s|^2 / 2, s = 1^T W_{K}" + (f" and 1^T b_{K}" if bias else "")
                    + ": the sums over classes (the softmax shift's one symmetric combination, 1 1^T)")
            symmetry = (f"translation of the last layer: W_{K} -> W_{K} + 1 a^T" + (f", b_{K} -> b_{K} + alpha 1" if bias
                                                                                   else "") + " (softmax output)")
            matches = ["translation"]
            note = ("the square of the catalogue's |s|; the search's generator, 1 1^T plus the layers' rescalings "
                    "(found on their own), is shown and measured as 1 1^T alone")
    elif group == "inputs" and level == "model":
        symmetry = "maps of the inputs the data never uses (constant-zero inputs): W_1 -> W_1 P"
        name = f"w^T A w / 2 for {count} map(s) of dead inputs (e.g. |W_1[:, a]|^2 for an input a that is always 0)"
    elif group == "inputs":
        symmetry = "symmetric maps of the inputs W_1 -> W_1 P (approximate symmetry of the data)"
    info = DiscoveredLaw(
        id=f"discovered/{slug}/quantity",
        group=group,
        kind="quantity",
        level=level,
        count=count,
        name=name,
        symmetry=symmetry,
        prediction="conserved under gradient flow (d/dt w^T A w / 2 = -<grad L, A w> = 0)",
        matches=matches,
        new=not matches,
        note=note,
        coefficients=coefficients,
        coefficient_spread=spread,
        residual=_max_res(sets),
        zscore=_max_z(sets),
    )
    return LawPlan(info, sets)


def _charge(found, structure, group, level, slug, sets, catalogue_ids) -> LawPlan:
    count = _count(sets)
    matches: list[str] = []
    note = None
    name = f"w'^T A w for {count} antisymmetric generator(s) of {group}"
    symmetry = f"antisymmetric generators on {group}"
    if group == "inputs" and level == "model":
        symmetry = "rotations among inputs the data never uses (constant-zero inputs)"
        name = f"w'^T A w for {count} rotation(s) among dead inputs (the loss ignores those columns of W_1)"
    elif group in ("inputs", "potential"):
        d = structure.layer(1).fan_in if group == "inputs" else structure.shapes[0][0]
        full = count == d * (d - 1) // 2
        symmetry = f"SO({d}) rotations " + ("of the inputs, W_1 -> W_1 R" if group == "inputs" else "of w")
        if group == "inputs":
            name = "angular momentum J = (W_1')^T W_1 - W_1^T W_1'" + ("" if full else f" ({count} of {d * (d - 1) // 2} planes)")
        else:
            name = "angular momentum J = w' w^T - w w'^T" + ("" if full else f" ({count} of {d * (d - 1) // 2} planes)")
        if full and "angular_momentum" in catalogue_ids:
            matches = ["angular_momentum"]
        elif not full:
            note = "rotations in only some planes: a partial symmetry"
    elif group.startswith("layer "):
        h = int(group.split()[1])
        d = structure.layer(h).fan_out
        symmetry = f"antisymmetric part of GL({d}) between layers {h} and {h + 1}"
        name = (
            f"antisymmetric part of W_{h}' W_{h}^T - W_{h + 1}^T W_{h + 1}' ({count} entries): conserved under ND"
        )
        note = "implied by Table 4's residual law for ND (eq. 43), not a catalogue law of its own"
    info = DiscoveredLaw(
        id=f"discovered/{slug}/charge",
        group=group,
        kind="charge",
        level=level,
        count=count,
        name=name,
        symmetry=symmetry,
        prediction="conserved under ND; 0 under GF; decays as t^-3 under NAGF",
        matches=matches,
        new=not matches,
        note=note,
        residual=_max_res(sets),
        zscore=_max_z(sets),
    )
    return LawPlan(info, sets)


def _residual(found, group, level, slug, sets, mixed) -> LawPlan:
    count = _count(sets)
    note = None
    if mixed:
        note = (
            f"{_count(mixed)} generator(s) are neither symmetric nor antisymmetric (the space is not closed "
            "under transposition): they give this residual law only"
        )
    info = DiscoveredLaw(
        id=f"discovered/{slug}/residual",
        group=group,
        kind="residual",
        level=level,
        count=count,
        name=f"<grad L(w), A w> for the {count} generator(s) of {group}, relative to sum |c_j| |g| |A_j w|",
        symmetry=_level_text(level),
        prediction="0 at every step, whatever the dynamics (<E, A w> = 0)",
        matches=[],
        new=False,
        note=note,
        residual=_max_res(sets),
        zscore=_max_z(sets),
    )
    return LawPlan(info, sets)


# ---------------------------------------------------------------------------------------------
# Blocks for display


def make_blocks(found: Found, plans: list[LawPlan]) -> list[GeneratorBlock]:
    """Heatmaps: per-neuron coefficients as neurons x pieces, gl generators as d x d matrices and patterns."""
    blocks: list[GeneratorBlock] = []
    for plan in plans:
        if plan.info.kind == "residual":
            continue
        parity = "symmetric" if plan.info.kind == "quantity" else "antisymmetric"
        by_family: dict[int, list[tuple[GeneratorSet, int]]] = {}
        for s in plan.sets:
            for k, _, _ in found.split(s.index):
                by_family.setdefault(k, []).append((s, k))
        rescale = [s for s in plan.sets if s.support.startswith("neuron ")]
        if rescale:
            blocks.append(_neuron_block(found, plan, rescale))
        for k in by_family:
            fam = found.families[k]
            if fam.name == "rescale":
                continue
            blocks.extend(_gl_blocks(found, plan, k, [s for s, _ in by_family[k]], parity))
    return blocks


def _neuron_block(found: Found, plan: LawPlan, sets: list[GeneratorSet]) -> GeneratorBlock:
    pieces = ["row", "bias", "beta", "col"]
    rows: list[str] = []
    matrix: list[list[float]] = []
    for s in sets[:MAX_BLOCK * 2]:
        coef = dict.fromkeys(pieces, 0.0)
        label = s.support.split()[1]
        for j, c in zip(s.index.tolist(), s.C[:, 0].tolist(), strict=True):
            fam, local = found.locate(j)
            coef[fam.candidates[local].piece] = c
        rows.append(f"neuron {label}")
        matrix.append([coef[p] for p in pieces])
    used = [i for i, p in enumerate(pieces) if any(abs(r[i]) > 0 for r in matrix)]
    h = plan.info.group.split()[-1]
    col_labels = {"row": f"W{h}[i,:]", "bias": f"b{h}[i]", "beta": f"beta{h}[i]", "col": f"W{int(h) + 1}[:,i]"}
    return GeneratorBlock(
        title=f"{plan.info.group}: rescaling generator of each neuron (coefficients)",
        group=plan.info.group,
        rows=rows[: MAX_BLOCK * 2],
        cols=[col_labels[pieces[i]] for i in used],
        matrix=[[r[i] for i in used] for r in matrix],
        parity="symmetric",
        residual=plan.info.residual,
    )


def _gl_blocks(found: Found, plan: LawPlan, k: int, sets: list[GeneratorSet], parity: str) -> list[GeneratorBlock]:
    fam = found.families[k]
    d = fam.d
    shown = min(d, MAX_BLOCK)
    labels = [str(i) for i in range(shown)]
    start = found.offsets[k]
    pattern = torch.zeros(d, d, dtype=torch.float64)
    singles: list[tuple[str, Tensor]] = []
    for s in sets:
        inside = (s.index >= start) & (s.index < start + fam.size)
        local = s.index[inside] - start
        if s.C is None:
            for j in local.tolist():
                coeffs = torch.zeros(fam.size, dtype=torch.float64)
                coeffs[j] = 1.0
                E = fam.matrix(coeffs)
                pattern += (E != 0).to(torch.float64)
                if len(singles) < MAX_GENERATOR_BLOCKS:
                    singles.append((fam.candidates[j].label, E))
            continue
        for col in range(s.C.shape[1]):
            coeffs = torch.zeros(fam.size, dtype=torch.float64)
            coeffs[local] = s.C[inside, col]
            E = fam.matrix(coeffs)
            pattern += (E != 0).to(torch.float64)
            if len(singles) < MAX_GENERATOR_BLOCKS:
                singles.append((f"generator {col + 1}", E))
    what = {"mix": f"E in gl({d}) of {plan.info.group}", "input": "P in W_1 -> W_1 P", "output": "Q in W_K -> Q W_K",
            "rotation": "A in w -> A w"}[fam.name]
    out = [
        GeneratorBlock(
            title=f"{plan.info.group}: where the {plan.info.count} {parity} generators act ({what}; count per entry)",
            group=plan.info.group,
            rows=labels,
            cols=labels,
            matrix=pattern[:shown, :shown].tolist(),
            parity="pattern",
            residual=plan.info.residual,
        )
    ]
    for title, E in singles:
        out.append(
            GeneratorBlock(
                title=f"{plan.info.group}: {title} ({what})",
                group=plan.info.group,
                rows=labels,
                cols=labels,
                matrix=E[:shown, :shown].tolist(),
                parity=parity,
                residual=plan.info.residual,
            )
        )
    return out
