"""Learn: the paper's story in four steps, each with its formulas and a live demo one click away.

For teaching: switch on presentation mode (top right; large fonts, high contrast, remembered in this
browser) and run each step's demo in front of the class.
"""

from __future__ import annotations

from typing import Any

import dash
from dash import ALL, Input, Output, State, callback, ctx, dcc, html, no_update

from dashboard import api

dash.register_page(__name__, path="/learn", name="Learn", title="Learn · Noether Lab", order=4)

STEPS: list[dict[str, Any]] = [
    {
        "title": "1. A symmetry of the loss",
        "text": r"""
A ReLU neuron does not care how its weights are split between its input and its output: for any
$\lambda > 0$, scaling the row $W_h[i,:]$ (and bias $b_h[i]$) by $\lambda$ and the column $W_{h+1}[:,i]$ by
$1/\lambda$ leaves the network's function, and so the loss $L$, unchanged, because
$\mathrm{ReLU}(\lambda x) = \lambda\,\mathrm{ReLU}(x)$.

$$T_\lambda:\; W_h[i,:] \mapsto \lambda W_h[i,:],\quad W_{h+1}[:,i] \mapsto W_{h+1}[:,i]/\lambda,\qquad L(T_\lambda w) = L(w).$$

The same holds for the rotation toy $L(w) = (\|w\|^2 - 1)^2$: any rotation $R$ gives $L(Rw) = L(w)$.
""",
        "look": "Nothing moves yet: a symmetry is a property of the loss, not of training.",
        "demo": {"names": ["fig1-gd"], "figure": "1"},
    },
    {
        "title": "2. Its generator, orthogonal to the gradient",
        "text": r"""
Differentiate the symmetry at $\lambda = 1$ to get its generator $\xi(w) = \frac{d}{d\lambda} T_\lambda(w)\big|_{\lambda=1}$.
Invariance of $L$ along the orbit means the gradient never has a component along it:

$$\langle \nabla L(w),\, \xi(w) \rangle = 0 \quad\text{for every } w.$$

For the neuron rescaling, $\xi$ is $+W_h[i,:]$ on the row and $-W_{h+1}[:,i]$ on the column; for rotations
of the toy, $\xi(w) = A w$ with $A$ antisymmetric.
""",
        "look": "The discovery page finds such generators numerically (Algorithm 1 of the paper).",
        "demo": {"names": ["fig1-gd"], "figure": "1"},
    },
    {
        "title": "3. A conserved quantity (Noether)",
        "text": r"""
Training dynamics have the form $k_2(t)\, w'' + k_1(t)\, w' + \nabla L(w) = 0$ (gradient flow: $k_2 = 0$,
$k_1 = 1$; Newtonian: $k_2 = 1$, $k_1 = 0$; Nesterov: $k_1 = 3/t$). Take the inner product with $\xi(w)$:

$$\langle k_2 w'' + k_1 w',\, \xi(w) \rangle = 0.$$

Under gradient flow this is a time derivative, and the **balance** is conserved:

$$\frac{d}{dt}\Big(\|W_h\|^2 - \|W_{h+1}\|^2\Big) = 0 .$$

Under Newtonian dynamics the rotation symmetry conserves the angular momentum $J = w' \times w$ (the paper's sign, eq. 48);
under Nesterov's flow it decays as $J(t) = J(t_0)\,(t_0/t)^3$.
""",
        "look": "Every law the lab measures comes with this prediction drawn beside the data.",
        "demo": {"names": ["toy-nd"], "figure": "3"},
    },
    {
        "title": "4. What you see",
        "text": r"""
**Fig. 1**: a ReLU network trained by GD, ND and NAG. $\|W_2\|^2$ and $\|W_3\|^2$ change a lot; their
difference stays put (exactly under gradient flow, up to $O(\eta)$ under GD).

**Figs. 3-6**: the rotation toy. Newtonian dynamics orbit in the plane normal to $J$ and keep $|J|$ and the
energy $\tfrac12\|w'\|^2 + L(w)$; Nesterov spirals onto the unit sphere with $|J| \sim t^{-3}$; gradient flow
goes straight to the sphere, $J = 0$.
""",
        "look": "Open a run's page: the trajectory, the laws with their predictions and the verdict table.",
        "demo": {"names": ["toy-nag"], "figure": "4"},
    },
]


def layout(**_: Any) -> html.Div:
    return html.Div(
        className="learn",
        children=[
            dcc.Store(id="learn-init", data=0),
            dcc.Store(id="learn-presets"),
            html.H1("Symmetries and conservation laws in training"),
            html.P(["The paper's story in four steps. For a lecture, switch on ",
                    html.B("Presentation mode"), " (top right): large fonts, high contrast, remembered."],
                   className="lead"),
            *[step_section(i, s) for i, s in enumerate(STEPS)],
            html.Div(id="learn-msg", className="errors"),
        ],
    )


def step_section(i: int, step: dict[str, Any]) -> html.Section:
    return html.Section(
        className="learn-step",
        id=f"learn-step-{i}",
        children=[
            html.H2(step["title"]),
            dcc.Markdown(step["text"], mathjax=True, className="math"),
            html.P(step["look"], className="hint"),
            html.Button("Run the demo", id={"type": "learn-run", "step": i}, className="btn btn-primary"),
            html.Span(id={"type": "learn-demo", "step": i}, className="hint"),
        ],
    )


def pick_preset(demo: dict[str, Any], presets: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The preset a step demonstrates: by name first, then by the paper figure it reproduces (pure)."""
    by_name = {p.get("name"): p for p in presets}
    for name in demo.get("names", []):
        if name in by_name:
            return by_name[name]
    fig = demo.get("figure")
    for p in presets:
        label = str(p.get("figure") or "")
        digits = "".join(ch if ch.isdigit() else " " for ch in label).split()
        if fig and fig in digits:
            return p
    return None


@callback(
    Output("learn-presets", "data"),
    Output({"type": "learn-demo", "step": ALL}, "children"),
    Input("learn-init", "data"),
)
async def load(_):
    res = await api.get("/presets")
    presets = (res.data if isinstance(res.data, list) else res.data.get("items", [])) if res.ok else []
    names = []
    for step in STEPS:
        p = pick_preset(step["demo"], presets)
        names.append(f" demo: {p.get('title') or p['name']}" if p else " (no demo preset found)")
    return presets, names


@callback(
    Output("app-nav", "href", allow_duplicate=True),
    Output("learn-msg", "children"),
    Input({"type": "learn-run", "step": ALL}, "n_clicks"),
    State("learn-presets", "data"),
    prevent_initial_call=True,
)
async def run_demo(clicks, presets):
    if not ctx.triggered_id or not any(c for c in clicks if c):
        return no_update, no_update
    step = STEPS[ctx.triggered_id["step"]]
    preset = pick_preset(step["demo"], presets or [])
    if not preset:
        return no_update, html.Div("No preset for this step is installed.", className="error")
    res = await api.post("/runs", {"preset": preset["name"]})
    if not res.ok:
        return no_update, html.Div(f"Could not start the demo: {res.message()}", className="error")
    return f"/runs/{res.data['id']}", no_update
