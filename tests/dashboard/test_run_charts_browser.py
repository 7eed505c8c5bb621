"""What the run page's charts show, read from the drawn chart (plotly's layout in the page, the SVG paths,
the 3D camera), not from the data: Fig. 1's two axes, the toy's spiral and its t^-3 law, the 3D framing.

Runs are small versions of the presets where the preset itself takes minutes on a busy 2-core machine.
"""

from __future__ import annotations

import math
import re

import httpx
import pytest

from .test_browser import submit, wait_run

pytestmark = [pytest.mark.browser, pytest.mark.timeout(240)]


def plain(text: str) -> str:
    """A chart title as a reader sees it: Plotly's rich text (<i>t</i><sup>−3</sup>) without its tags."""
    text = re.sub(r"</?(i|b|sub|sup)>", "", text).replace("\u2212", "-").replace("\u00d7", "x")
    return " ".join(text.split())


def preset_spec(lab, name: str) -> dict:
    """The preset's spec as GET /api/presets serves it."""
    res = httpx.get(f"{lab.api}/presets", timeout=30)
    assert res.status_code == 200, res.text
    return next(p for p in res.json() if p["name"] == name)["spec"]


def open_done(lab, page, run_id: str) -> None:
    page.goto(f"{lab.url}/runs/{run_id}")
    page.wait_for_function("() => window.NoetherLive && window.NoetherLive.state() && window.NoetherLive.state().done")


# the fraction of the plot area's height each line trace's drawn path spans, by column
DRAWN_SPANS = """(sel) => {
  const gd = document.querySelector(sel + ' .js-plotly-plot');
  const h = gd._fullLayout._size.h, out = {};
  for (const g of gd.querySelectorAll('.scatterlayer .trace')) {
    const tr = g.__data__ && g.__data__[0] && g.__data__[0].trace, path = g.querySelector('path.js-line');
    if (!tr || !tr.meta || !tr.meta.y || !path || !path.getAttribute('d') || path.getAttribute('d') === 'M0,0') continue;
    out[tr.meta.y] = path.getBBox().height / h;
  }
  return out;
}"""


def law_chart(page, column: str) -> str:
    """The selector of the run page's chart that draws ``column`` on a second axis."""
    gid = page.evaluate("(c) => { for (const box of document.querySelectorAll('#run-graphs .plot-box')) {"
                        " const gd = box.querySelector('.js-plotly-plot');"
                        " if (gd && gd.data && gd.data.some(t => t.meta && t.meta.y === c && t.yaxis === 'y2')) return box.id; }"
                        " return null; }", column)
    assert gid, f"no chart draws {column} on a second axis"
    return "#" + gid


def test_fig1_gd_difference_reads_flat_beside_the_norms_and_zooms_in_one_click(lab, page):
    """Fig. 1: the right axis spans what the norms' axis spans, so GD's conserved difference is a flat line."""
    spec = preset_spec(lab, "fig1-gd")
    # fig1-gd scaled down to run in seconds: same depth and data shape, narrower layers, a larger step
    spec["model"]["widths"] = [784, 64, 64, 64, 10]
    spec["data"]["samples"] = 300
    spec["dynamics"]["lr"] = 0.03
    spec |= {"steps": 150, "record_every": 5}
    run_id = submit(lab, spec)
    wait_run(lab, run_id, 200)
    open_done(lab, page, run_id)
    page.wait_for_function("() => Array.from(document.querySelectorAll('#run-graphs .js-plotly-plot')).some(gd =>"
                           " gd.data.some(t => t.meta && t.meta.y === 'balance/h2' && t.x && t.x.length === 31))")
    sel = law_chart(page, "balance/h2")
    page.wait_for_timeout(500)
    spans = page.evaluate(DRAWN_SPANS, sel)
    assert spans["balance/h2"] < 0.02, spans
    assert spans["balance/h2:|W_2|^2"] > 0.3 and spans["balance/h2:|W_3|^2"] > 0.3, spans
    ranges = page.evaluate("(s) => { const l = document.querySelector(s + ' .js-plotly-plot')._fullLayout;"
                           " return [l.yaxis.range, l.yaxis2.range]; }", sel)
    left, right = (r[1] - r[0] for r in ranges)
    assert right == pytest.approx(left, rel=0.1)  # the same span, each axis with its own offset
    # one click zooms into the drift, and the chart says by how much
    button = page.locator(f"{sel} .updatemenu-button", has_text="zoom into the difference")
    label = button.text_content()
    assert re.search(r"\(x [\d,.]+\)", label), label
    button.click()
    page.wait_for_function(f"() => ({DRAWN_SPANS})('{sel}')['balance/h2'] > 0.3")
    title = page.evaluate("(s) => document.querySelector(s + ' .js-plotly-plot')._fullLayout.yaxis2.title.text", sel)
    assert "zoomed x" in plain(title)
    page.locator(f"{sel} .updatemenu-button", has_text="on the norms' scale").click()
    page.wait_for_function(f"() => ({DRAWN_SPANS})('{sel}')['balance/h2'] < 0.02")
    assert not page.errors


def test_toy_nag_spiral_turns_once_and_its_log_log_chart_shows_the_t_minus_3_law(lab, page):
    run_id = submit(lab, preset_spec(lab, "toy-nag-spiral"))
    wait_run(lab, run_id, 200)
    open_done(lab, page, run_id)
    page.wait_for_function("() => { const gd = document.querySelector('#run-graph-trajectory .js-plotly-plot');"
                           " return gd && gd.data.some(t => t.meta && t.meta.live === 'path3d' && t.x.length > 500); }")
    path = page.evaluate("() => { const t = document.querySelector('#run-graph-trajectory .js-plotly-plot')"
                         ".data.find(t => t.meta && t.meta.live === 'path3d'); return [t.x, t.y, t.z]; }")
    pts = list(zip(*path, strict=True))
    turned = 0.0
    for a, b in zip(pts, pts[1:], strict=False):
        c = sum(p * q for p, q in zip(a, b, strict=True)) / math.hypot(*a) / math.hypot(*b)
        turned += math.degrees(math.acos(max(-1.0, min(1.0, c))))
    assert turned >= 300, turned
    sel = "#run-graph-powerlaw-0 .js-plotly-plot"
    page.wait_for_function(f"() => {{ const gd = document.querySelector('{sel}');"
                           " return gd && gd.data.some(t => t.meta && t.meta.live === 'fit' && t.x.length === 2); }")
    chart = page.evaluate(f"() => {{ const gd = document.querySelector('{sel}'), l = gd._fullLayout;"
                          " const ref = gd.data.find(t => t.meta && t.meta.slope !== undefined),"
                          " fit = gd.data.find(t => t.meta && t.meta.live === 'fit');"
                          " const n = ref.x.length - 1;"
                          " return {types: [l.xaxis.type, l.yaxis.type], ref: [ref.x[0], ref.y[0], ref.x[n], ref.y[n]],"
                          " fit: fit.name, title: l.title.text}; }")
    assert chart["types"] == ["log", "log"]
    x0, y0, x1, y1 = chart["ref"]
    assert math.log(y1 / y0) / math.log(x1 / x0) == pytest.approx(-3.0, abs=1e-6)  # the reference line: slope -3
    fitted = float(re.search(r"slope (-?[\d.]+)", chart["fit"]).group(1))
    assert fitted == pytest.approx(-3.0, abs=0.05)
    assert f"fitted {fitted:.3f}" in plain(chart["title"]) and "slope -3 predicted" in plain(chart["title"])
    # the chart the text points at comes right after the 3D view (issue 15: it was 6th, its title clipped)
    order = page.evaluate("() => Array.from(document.querySelectorAll('#run-graphs .plot-box')).map(b => b.id)")
    assert order[:2] == ["run-graph-trajectory", "run-graph-powerlaw-0"], order
    assert len(plain(chart["title"])) < 60, chart["title"]
    assert not page.errors


# The pixels of a 3D point as plotly draws it (its annotation code: projection x view x model, then the scene's
# domain), for each point of the drawn trajectory.
PROJECT = """() => {
  const gd = document.querySelector('#run-graph-trajectory .js-plotly-plot');
  const fl = gd._fullLayout, sc = fl.scene._scene, cam = sc.glplot.cameraParams, ds = sc.dataScale;
  const mv = (m, v) => { const r = [0, 0, 0, 0]; for (let i = 0; i < 4; i++) for (let j = 0; j < 4; j++) r[j] += m[4 * i + j] * v[i]; return r; };
  const tr = gd.data.find(t => t.meta && t.meta.live === 'path3d'), dom = fl.scene.domain, size = fl._size;
  const px = [];
  for (let i = 0; i < tr.x.length; i++) {
    const p = mv(cam.projection, mv(cam.view, mv(cam.model, [tr.x[i] * ds[0], tr.y[i] * ds[1], tr.z[i] * ds[2], 1])));
    px.push([0.5 * (1 + p[0] / p[3]) * size.w * (dom.x[1] - dom.x[0]), 0.5 * (1 - p[1] / p[3]) * size.h * (dom.y[1] - dom.y[0])]);
  }
  let longest = 0;
  for (const a of px) for (const b of [px[0], px[px.length - 1]]) longest = Math.max(longest, Math.hypot(a[0] - b[0], a[1] - b[1]));
  return {length: longest, width: fl.width, n: px.length};
}"""


def test_toy_gf_straight_segment_is_seen_across_not_end_on(lab, page):
    run_id = submit(lab, preset_spec(lab, "toy-gf"))
    wait_run(lab, run_id, 200)
    open_done(lab, page, run_id)
    page.wait_for_function("() => { const gd = document.querySelector('#run-graph-trajectory .js-plotly-plot');"
                           " return gd && gd._fullLayout.scene && gd._fullLayout.scene._scene"
                           " && gd.data.some(t => t.meta && t.meta.live === 'path3d' && t.x.length > 100); }")
    page.wait_for_timeout(500)
    face = page.evaluate(PROJECT)
    assert face["length"] > face["width"] / 4, face
    scene = page.evaluate("() => { const s = document.querySelector('#run-graph-trajectory .js-plotly-plot')._fullLayout.scene;"
                          " return [s.aspectmode, s.xaxis.range, s.yaxis.range, s.zaxis.range]; }")
    assert scene[0] == "cube" and scene[1] == scene[2] == scene[3]  # equal scales on the three axes
    # edge-on looks along the segment (a dot), face-on brings it back
    page.locator("#run-graph-trajectory .updatemenu-button", has_text="edge-on").click()
    page.wait_for_function(f"() => ({PROJECT})().length < 0.05 * ({PROJECT})().width")
    page.locator("#run-graph-trajectory .updatemenu-button", has_text="face-on").click()
    page.wait_for_function(f"() => ({PROJECT})().length > ({PROJECT})().width / 4")
    assert not page.errors
