"""The Dash app as a server: what a browser gets on its first request."""

from fastapi.testclient import TestClient

from dashboard.app import create_dash


def test_a_shared_run_link_opened_first_on_a_fresh_server_gets_every_clientside_function():
    """Dash registers its pages router and the title callback's inline script on the first request to
    '/' or '/_dash-*'; a fresh server whose first visitor opens /runs/<id> must serve them too."""
    app = create_dash()
    with TestClient(app.server) as client:
        first = client.get("/runs/0123456789abcdef")
        assert first.status_code == 200
        assert "document.title = data.title" in first.text  # the pages' clientside title callback
        deps = client.get("/_dash-dependencies").json()
    inline = [d for d in deps if (d.get("clientside_function") or {}).get("namespace") == "_dashprivate_clientside_funcs"]
    assert inline and all(d["clientside_function"]["function_name"] in first.text for d in inline)


def test_the_runs_table_shows_the_sweep_beside_the_name_and_a_banner_lists_recent_sweeps():
    """The sweep's link is the second column (not off-screen at the right); the banner lists sweeps newest first."""
    from dashboard.pages.runs import recent_sweeps, run_row, sweep_banner, table_columns

    runs = [{"id": "a" * 16, "group": "g" * 16, "created_at": "2025-01-01T10:00:00", "swept": {"dynamics.lr": 0.1}},
            {"id": "b" * 16, "group": "g" * 16, "created_at": "2025-01-01T10:00:01", "swept": {"dynamics.lr": 0.05}},
            {"id": "c" * 16, "group": "h" * 16, "created_at": "2025-01-02T09:00:00", "swept": {"seed": 1}},
            {"id": "d" * 16, "created_at": "2025-01-03T09:00:00"}]
    rows = [run_row(r) for r in runs]
    ids = [c["id"] for c in table_columns(rows)]
    assert ids[:4] == ["link", "group", "swept:dynamics.lr", "swept:seed"] and ids[-1] == "duration"
    assert rows[0]["group"] == f"[sweep {'g' * 8}](/sweeps/{'g' * 16})" and rows[3]["group"] == ""
    sweeps = recent_sweeps(runs)
    assert [(s["group"][0], s["runs"], s["swept"], s["href"]) for s in sweeps] == [
        ("h", 1, ["seed"], "/sweeps/" + "h" * 16), ("g", 2, ["dynamics.lr"], "/sweeps/" + "g" * 16)]
    assert recent_sweeps(runs, limit=1)[0]["group"] == "h" * 16 and sweep_banner([]) == []
    links = sweep_banner(sweeps)[1].children
    assert links[0].children[0].href == "/sweeps/" + "h" * 16 and "seed" in links[0].children[0].children
