"""The examples run on this machine (digits from scikit-learn, nothing downloaded), and so does the notebook."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import plotly.graph_objects as go
import pytest

from tests.conftest import ROOT

EXAMPLES = ROOT / "examples"
pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]


@pytest.mark.parametrize("script", ["mlp_sgd_momentum.py", "cnn_batchnorm_sgd.py", "cnn_adamw.py"])
def test_example_runs_and_writes_a_run_folder(script, tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    out = subprocess.run([sys.executable, str(EXAMPLES / script), "--steps", "30", "--every", "5"], cwd=tmp_path,
                         capture_output=True, text=True, timeout=500, env=env)
    assert out.returncode == 0, out.stderr
    (folder,) = (tmp_path / "noether-runs").iterdir()
    assert {p.name for p in folder.iterdir()} >= {"series.parquet", "summary.json", "spec.json"}
    summary = json.loads((folder / "summary.json").read_text())
    verdicts = {law["verdict"] for law in summary["laws"]}
    assert verdicts == ({"not applicable"} if "adamw" in script else {"holds"}), summary["laws"]
    assert "translation/" in out.stdout


def test_the_notebook_shows_the_figures_inline(monkeypatch):
    nb = json.loads((EXAMPLES / "watch_notebook.ipynb").read_text())
    monkeypatch.chdir(EXAMPLES)
    monkeypatch.syspath_prepend(str(EXAMPLES))
    scope: dict = {}
    shown = None
    for cell in nb["cells"]:
        if cell["cell_type"] != "code":
            continue
        src = "".join(cell["source"]).replace(", 300)", ", 20)")  # the same cells, shorter
        if ".show()" in src:
            continue
        *body, last = src.rstrip().split("\n")
        try:  # a cell whose last line is an expression displays its value, as Jupyter does
            shown_code = compile(last, "cell", "eval")
        except SyntaxError:
            exec(compile(src, "cell", "exec"), scope)  # noqa: S102 - our own notebook
            continue
        exec(compile("\n".join(body), "cell", "exec"), scope)  # noqa: S102
        shown = eval(shown_code, scope)  # noqa: S307 - the cell's displayed value
    assert isinstance(shown, go.Figure) and "|W_0|^2" in shown.layout.title.text
    names = {trace.name for trace in shown.data}
    # SGD with momentum 0.9 and weight decay 5e-3: gradient flow's prediction decays, the legend says so
    assert "modified flow (finite learning rate)" in names and "gradient flow: decays as exp(-2 lambda t / (1 - beta))" in names
    figs = scope["mon"].figure()
    assert figs[0].layout.title.text == "Loss" and len(figs) == 1 + len(scope["mon"].laws)
