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
