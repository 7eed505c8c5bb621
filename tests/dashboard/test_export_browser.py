"""Issue 12 items 5-7 and issue 15's leftovers in a real headless Chromium against the real lab.

- The run's composed figure (``/export/<id>.png|svg|pdf``) holds every chart, the 3D view and the verdicts: the
  PNG is 7 in wide at 300 dpi, the SVG carries the 3D scene (WebGL, as an image) and the verdict table, the PDF
  its raster too. The archive holds spec, summary, series (Parquet, CSV), the figures and a README that names
  the columns the CSV leaves out.
- "What if?": Enter in a box reruns at once (no need to leave the box).
- J has one sign on every page: the paper's (eq. 48), J(0) = w'(0) x w(0) = (0, 3/2, -3/2) for the toy.

Screenshots: test-artifacts/screenshots/export-*.png (the exported PNG itself too, to look at).
"""

from __future__ import annotations

import base64
import io
import math
import re
import struct
import zipfile

import httpx
import pytest

from .conftest import SHOTS
from .test_browser import wait_run

pytestmark = [pytest.mark.browser, pytest.mark.timeout(400)]


def run_preset(lab, name: str, **overrides) -> str:
    body = {"preset": name, "overrides": overrides} if overrides else {"preset": name}
    res = httpx.post(f"{lab.api}/runs", json=body, timeout=30)
    assert res.status_code == 201, res.text
    return res.json()["id"]


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", data[16:24])


def png_dpi(data: bytes) -> float | None:
    i = data.find(b"pHYs")
    if i < 0:
        return None
    per_metre, _, unit = struct.unpack(">IIB", data[i + 4:i + 13])
    return per_metre * 0.0254 if unit == 1 else None


def test_the_composed_figure_holds_every_chart_the_3d_view_and_the_verdicts(lab, page):
    run_id = run_preset(lab, "toy-nd", steps=600)
    wait_run(lab, run_id)
    page.goto(f"{lab.url}/runs/{run_id}")
    page.wait_for_function("() => window.NoetherLive && window.NoetherLive.state() && window.NoetherLive.state().done")
    page.wait_for_function("() => !!document.querySelector('#run-export-png')?.getAttribute('href')")  # set by a callback
    href = page.get_attribute("#run-export-png", "href")
    assert href == f"/export/{run_id}.png"
    assert "left out" in page.inner_text("#run-export-note")  # the CSV says what it leaves out, near the button
    with page.expect_download(timeout=180_000) as dl:  # the button downloads the one composed figure
        page.click("#run-export-png")
    png = open(dl.value.path(), "rb").read()
    (SHOTS / "export-toy-nd-figure.png").write_bytes(png)  # the exported figure, to look at
    width, height = png_size(png)
    assert width == 2100 and png_dpi(png) == pytest.approx(300, abs=0.5)  # 7 in at 300 dpi
    assert height > 1000  # several rows of charts and the table
    page.screenshot(path=str(SHOTS / "export-run-page.png"))

    svg = httpx.get(f"{lab.url}/export/{run_id}.svg", timeout=180).text
    assert svg.lstrip().startswith("<svg") or "<svg" in svg[:500]
    images = re.findall(r'href="data:image/png;base64,([A-Za-z0-9+/=]+)"', svg)  # WebGL scenes come as rasters
    assert images, "the SVG has no 3D scene"
    scene_w, scene_h = png_size(base64.b64decode(images[0]))
    assert scene_w > 300 and scene_h > 200
    for text in ("Trajectory w(t)", "Verdicts", "holds", "angular momentum", "Loss"):  # charts and the table
        assert text in svg, text
    pdf = httpx.get(f"{lab.url}/export/{run_id}.pdf", timeout=180).content
    assert pdf.startswith(b"%PDF") and b"/Image" in pdf  # the 3D scene's raster is in it
    assert not page.errors


def test_nags_export_has_the_log_log_j_chart_right_after_the_3d_view(lab):
    run_id = run_preset(lab, "toy-nag", steps=1500)
    wait_run(lab, run_id)
    svg = httpx.get(f"{lab.url}/export/{run_id}.svg", timeout=240).text
    titles = re.findall(r'class="annotation-text"[^>]*>([^<]*)<', svg)  # the cells' titles, in the page's order
    assert titles[:2] == ["Trajectory w(t)", titles[1]] and titles[1].startswith("|J| against t (log-log): slope -3")
    fitted = float(re.search(r"fitted (-?[0-9.]+)", titles[1]).group(1))
    assert fitted == pytest.approx(-3.0, abs=0.1)


def test_the_archive_has_spec_summary_series_figures_and_says_what_the_csv_leaves_out(lab):
    run_id = run_preset(lab, "fig1-gd", steps=20)  # 200 neurons a layer: per-neuron views the CSV cannot spread
    wait_run(lab, run_id, timeout=240)
    res = httpx.get(f"{lab.url}/export/{run_id}.zip", timeout=300)
    assert res.status_code == 200, res.text[:500]
    zf = zipfile.ZipFile(io.BytesIO(res.content))
    names = {n.split("/", 1)[1] for n in zf.namelist()}
    assert names == {"README.txt", "spec.json", "summary.json", "series.parquet", "series.csv", "figure.png",
                     "figure.svg", "figure.pdf"}
    readme = zf.read(f"{run_id}/README.txt").decode()
    left = readme.split("series.csv leaves out these columns", 1)[1]
    header = zf.read(f"{run_id}/series.csv").split(b"\n", 1)[0].decode()
    import pyarrow.parquet as pq

    columns = pq.read_schema(io.BytesIO(zf.read(f"{run_id}/series.parquet"))).names
    missing = [c for c in columns if c not in header]
    assert missing and all(c in left for c in missing), (missing, left)  # every column the CSV lacks is named
    assert ":neurons" in left
    assert png_size(zf.read(f"{run_id}/figure.png"))[0] == 2100


def test_an_export_refuses_a_bad_run_id_or_format_with_a_clear_message(lab):
    res = httpx.get(f"{lab.url}/export/a!b$c.png", timeout=30)
    assert res.status_code == 422 and "run id" in res.json()["detail"]
    res = httpx.get(f"{lab.url}/export/abcdefgh12.gif", timeout=30)
    assert res.status_code == 404 and "png, svg, pdf, zip" in res.json()["detail"]
    res = httpx.get(f"{lab.url}/export/nosuchrun0000.png", timeout=30)
    assert res.status_code == 404


def test_enter_in_a_what_if_box_reruns_at_once(lab, page):
    run_id = run_preset(lab, "toy-nd")
    wait_run(lab, run_id)
    page.goto(f"{lab.url}/runs/{run_id}")
    page.locator("#run-play-open").click()
    page.wait_for_function("() => document.querySelector('#run-play-text')?.innerText.includes('now:')", timeout=60_000)
    box = page.locator("input[id*='\"type\":\"run-play-box\"'][id*='\"name\":\"lr\"']")
    assert float(box.input_value()) == pytest.approx(1e-4)  # the box shows eta itself, not log10 eta
    box.fill("0.0002")
    box.press("Enter")  # no blur: Enter alone reruns
    page.wait_for_function("() => document.querySelector('#run-play-text')?.innerText.includes('η = 0.0002')",
                           timeout=60_000)
    assert page.evaluate("() => document.activeElement && document.activeElement.id.includes('run-play-box')")
    slider = page.evaluate("() => document.querySelector('#run-play-path .js-plotly-plot').data.map(t => t.name)")
    assert any(n.startswith("now: η = 0.0002") for n in slider)
    page.screenshot(path=str(SHOTS / "export-what-if-enter.png"))
    assert not page.errors


def test_j_has_the_papers_sign_on_the_run_page_and_on_discover(lab, page):
    run_id = run_preset(lab, "toy-nd", steps=300)
    wait_run(lab, run_id)
    page.goto(f"{lab.url}/runs/{run_id}")
    page.wait_for_function("() => window.NoetherLive && window.NoetherLive.state() && window.NoetherLive.state().done")
    page.locator("#run-verdict-table").wait_for()
    run_name = page.inner_text("#run-verdict-table")
    assert "J = w' w^T - w w'^T" in run_name
    # the 3D view's arrow: J(0) = w'(0) x w(0) = (0, 3/2, -3/2) (Sec. 6.1), conserved by ND
    jvec = ("() => { const gd = document.querySelector('#run-graph-trajectory .js-plotly-plot');"
            " const t = gd && gd.data && gd.data.find(t => t.meta && t.meta.live === 'jvec');"
            " return t && t.x.length === 2 ? [t.x[1], t.y[1], t.z[1]] : null; }")
    page.wait_for_function(jvec)  # the 3D view is drawn (it may come after the other charts)
    tip = page.evaluate(jvec)
    n = math.sqrt(sum(c * c for c in tip))
    assert [c / n for c in tip] == pytest.approx([0.0, 1 / math.sqrt(2), -1 / math.sqrt(2)], abs=1e-6)
    assert "(0, 3/2, -3/2)" in page.inner_text("#run-story")
    page.screenshot(path=str(SHOTS / "export-j-run-page.png"))
    page.goto(lab.url + "/discover?preset=toy-nd")
    page.click("#discover-go")
    page.wait_for_function("() => document.querySelector('#discover-laws') && document.querySelector('#discover-laws')"
                           ".innerText.includes('angular_momentum')", timeout=180_000)
    laws = page.inner_text("#discover-laws")
    assert "J = w' w^T - w w'^T" in laws and "J = w w'^T" not in laws
    page.screenshot(path=str(SHOTS / "export-j-discover.png"))
    assert not page.errors
