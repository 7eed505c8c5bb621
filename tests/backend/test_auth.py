"""No change without the credential, whatever the route (issue 10, item 1), against a real server and Redis.

A lab with a token, no worker (runs stay queued, so a cancel or an edit is visible), its server in a thread
(uvicorn, the app of ``lab.server``: dashboard and API on one port). Attacks go through Dash's callback
route (``POST /_dash-update-component``, not under ``/api``) the way a script would, with the payloads the
dashboard's own browser code sends.
"""

from __future__ import annotations

import json
import socket
import threading

import httpx
import pytest

TOKEN = "t0ken-for-the-auth-tests"
BEARER = {"Authorization": f"Bearer {TOKEN}"}
TINY = {"potential": {"kind": "sphere", "dim": 3}, "steps": 5}


@pytest.fixture(scope="module")
def lab(stack_factory):
    return stack_factory(workers=0, api_token=TOKEN, max_queued_per_client=3, body_timeout_seconds=2.0)


@pytest.fixture
def http(lab):
    with httpx.Client(base_url=lab.url, timeout=60) as client:
        yield client


def submit(http: httpx.Client, **extra) -> str:
    resp = http.post("/api/runs", json={"spec": TINY, **extra}, headers=BEARER)
    assert resp.status_code == 201, resp.text
    return resp.json()["id"]


def cancel_all(http: httpx.Client) -> None:
    """Cancel every queued run (with the token), so that the per-client limit starts from zero."""
    for run in http.get("/api/runs", params={"status": "queued", "limit": 200}).json()["items"]:
        http.post(f"/api/runs/{run['id']}/cancel", headers=BEARER)


def sign_in(http: httpx.Client) -> dict[str, str]:
    """The session cookie the sign-in page gives for the token (as a header of later requests)."""
    resp = http.post("/signin", content=f"token={TOKEN}&next=/runs",
                     headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert resp.status_code == 303 and resp.headers["location"] == "/runs"
    cookie = resp.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
    return {"Cookie": cookie.split(";")[0]}


# -- Dash callbacks, as the browser sends them ------------------------------------------------------


def _outputs(spec: str) -> list[dict[str, str]]:
    parts = spec.strip(".").split("...") if spec.startswith("..") else [spec]
    return [dict(zip(("id", "property"), p.rsplit(".", 1), strict=True)) for p in parts]


def callback_body(http: httpx.Client, output_contains: str, input_contains: str, inputs: list, state: list,
                  changed: str) -> dict:
    """The body of ``POST /_dash-update-component`` for the callback of that output and input (as the browser's)."""
    deps = http.get("/_dash-dependencies").json()
    dep = next(d for d in deps if output_contains in d["output"]
               and any(input_contains in i["id"] for i in d["inputs"]))
    outs = _outputs(dep["output"])
    return {"output": dep["output"], "outputs": outs if dep["output"].startswith("..") else outs[0],
            "inputs": inputs, "state": state, "changedPropIds": [changed]}


def cancel_callback(http: httpx.Client, run_id: str) -> dict:
    return callback_body(http, "run-cancel-msg.children", "run-cancel",
                         [{"id": "run-cancel", "property": "n_clicks", "value": 1}],
                         [{"id": "run-id", "property": "data", "value": run_id}], "run-cancel.n_clicks")


def preset_callback(http: httpx.Client) -> dict:
    button = {"preset": "toy-gf", "type": "launch-run"}
    return callback_body(http, "launch-form-status.children", "launch-run",
                         [[{"id": button, "property": "n_clicks", "value": 1}]], [],
                         json.dumps(button, sort_keys=True, separators=(",", ":")) + ".n_clicks")


def tags_callback(http: httpx.Client, run_id: str) -> dict:
    rows = [{"id": run_id, "tags": "hijacked", "note": "pwned"}]
    return callback_body(http, "runs-previous.data", "runs-table",
                         [{"id": "runs-table", "property": "data_timestamp", "value": 1}],
                         [{"id": "runs-table", "property": "data", "value": rows},
                          {"id": "runs-previous", "property": "data", "value": {run_id: {"tags": "", "note": ""}}}],
                         "runs-table.data_timestamp")


def status(http: httpx.Client, run_id: str) -> dict:
    return http.get(f"/api/runs/{run_id}").json()


def total_runs(http: httpx.Client) -> int:
    return http.get("/api/runs", params={"limit": 200}).json()["total"]


def test_dash_callbacks_change_nothing_without_the_credential(http):
    run_id = submit(http, tags=["mine"], note="kept")
    before = total_runs(http)

    refused = http.post("/_dash-update-component", json=cancel_callback(http, run_id))
    assert refused.status_code == 200 and "sign in" in refused.text
    refused = http.post("/_dash-update-component", json=preset_callback(http))
    assert "sign in" in refused.text
    refused = http.post("/_dash-update-component", json=tags_callback(http, run_id))
    assert "sign in" in refused.text

    rec = status(http, run_id)
    assert rec["status"] == "queued" and rec["tags"] == ["mine"] and rec["note"] == "kept"
    assert total_runs(http) == before

    # the same calls from a signed-in browser go through: the refusals above were the credential's
    session = sign_in(http)
    done = http.post("/_dash-update-component", json=tags_callback(http, run_id), headers=session)
    assert f"saved {run_id}" in done.text
    done = http.post("/_dash-update-component", json=cancel_callback(http, run_id), headers=session)
    assert "cancel requested" in done.text
    rec = status(http, run_id)
    assert rec["status"] == "cancelled" and rec["tags"] == ["hijacked"] and rec["note"] == "pwned"


def test_the_api_takes_the_session_cookie_or_the_token_and_nothing_else(http):
    run_id = submit(http)
    assert http.post(f"/api/runs/{run_id}/cancel").status_code == 401
    assert http.post(f"/api/runs/{run_id}/cancel", headers={"Cookie": "noether_session=forged"}).status_code == 401
    page = http.get("/runs")  # an anonymous browser's cookie names it, but grants nothing
    anonymous = {"Cookie": page.headers["set-cookie"].split(";")[0]}
    assert http.post(f"/api/runs/{run_id}/cancel", headers=anonymous).status_code == 401
    assert http.post(f"/api/runs/{run_id}/cancel", headers=sign_in(http)).json()["status"] == "cancelled"
    assert http.get("/signout").headers["set-cookie"].startswith("noether_session=;")


def test_a_session_cookie_grants_nothing_to_another_origin(http):
    """SameSite=Strict still sends the cookie from another port of the same host: such requests get no credit."""
    run_id = submit(http)
    session = sign_in(http)
    other_port = {**session, "Origin": "http://127.0.0.1:9999"}
    assert http.post(f"/api/runs/{run_id}/cancel", headers=other_port).status_code == 401
    same_site = {**session, "Sec-Fetch-Site": "same-site"}
    refused = http.post("/_dash-update-component", json=cancel_callback(http, run_id), headers=same_site)
    assert "sign in" in refused.text and status(http, run_id)["status"] == "queued"
    own_page = {**session, "Sec-Fetch-Site": "same-origin", "Origin": "http://elsewhere"}
    done = http.post("/_dash-update-component", json=cancel_callback(http, run_id), headers=own_page)
    assert "cancel requested" in done.text and status(http, run_id)["status"] == "cancelled"


def test_a_host_header_never_sends_the_dashboards_calls_elsewhere(http):
    """``Host: 127.0.0.1:<port>`` once made the server send the token to that port."""
    received: list[bytes] = []
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    listener.settimeout(0.2)
    port = listener.getsockname()[1]
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            conn.settimeout(2)
            try:
                received.append(conn.recv(65536) or b"(connected)")
            except OSError:
                received.append(b"(connected)")
            conn.close()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        run_id = submit(http)
        forged = {"Host": f"127.0.0.1:{port}", **BEARER}  # with a credential, so that there is one to steal
        resp = http.post("/_dash-update-component", json=cancel_callback(http, run_id), headers=forged)
        http.get("/runs", headers={"Host": f"127.0.0.1:{port}"})
        http.post("/_dash-update-component", json=preset_callback(http), headers=forged)
    finally:
        stop.set()
        thread.join(5)
        listener.close()
    assert received == []
    assert "cancel requested" in resp.text and status(http, run_id)["status"] == "cancelled"


def test_x_client_id_does_not_bypass_the_per_client_limit(http):
    cancel_all(http)
    for _ in range(3):
        submit(http)
    resp = http.post("/api/runs", json={"spec": TINY}, headers={**BEARER, "X-Client-Id": "somebody-else"})
    assert resp.status_code == 429, resp.text
    resp = http.post("/api/runs", json={"spec": TINY}, headers={**BEARER, "X-Forwarded-For": "10.9.8.7"})
    assert resp.status_code == 429
    # a signed-in browser is a client of its own
    assert http.post("/api/runs", json={"spec": TINY}, headers=sign_in(http)).status_code == 201
    cancel_all(http)


def test_malformed_json_without_the_token_is_401_before_422(http):
    bad = b'{"spec": {"steps": '
    for path in ("/api/runs", "/api/sweeps", "/api/discover", "/api/runs/some-run-id"):
        send = http.patch if path.endswith("some-run-id") else http.post
        resp = send(path, content=bad, headers={"Content-Type": "application/json"})
        assert resp.status_code == 401, (path, resp.text)
        assert "sign in" in resp.json()["detail"]
    assert http.post("/api/runs", content=bad, headers={"Content-Type": "application/json", **BEARER}).status_code == 422
    # checking a spec changes nothing: a reader may (the launch form shows its messages to everyone)
    assert http.post("/api/validate", json={"spec": TINY}).status_code == 200


def test_a_50_mb_body_to_the_dash_route_gets_413(lab):
    big = b"x" * (50 * 1024 * 1024)
    with httpx.Client(base_url=lab.url, timeout=120) as client:
        try:
            resp = client.post("/_dash-update-component", content=big, headers={"Content-Type": "application/json"})
        except httpx.HTTPError as exc:  # the server may close before the upload ends: read its answer raw
            pytest.fail(f"no answer to the 50 MB body: {exc!r}")
    assert resp.status_code == 413 and "NOETHER_MAX_REQUEST_BYTES" in resp.json()["detail"]

    def chunks():  # no Content-Length: the limit counts what arrives
        for _ in range(50):
            yield b"x" * (1024 * 1024)

    with httpx.Client(base_url=lab.url, timeout=120) as client:
        resp = client.post("/_dash-update-component", content=chunks())
    assert resp.status_code == 413


@pytest.mark.parametrize("path, headers", [("/_dash-update-component", ""), ("/api/runs", f"Authorization: Bearer {TOKEN}\r\n")])
def test_a_body_that_stalls_is_answered_408_and_closed(lab, path, headers):
    """Content-Length: 999999 and 5 bytes sent: the server answers 408 and closes (timeout 2 s here)."""
    with socket.create_connection(("127.0.0.1", int(lab.url.rsplit(":", 1)[1])), timeout=60) as s:
        s.sendall((f"POST {path} HTTP/1.1\r\nHost: lab\r\nContent-Type: application/json\r\n{headers}"
                   "Content-Length: 999999\r\n\r\n{\"a\":").encode())
        answer = b""
        while chunk := s.recv(65536):  # until the server closes (a socket timeout fails the test)
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 408"), answer[:200]
    assert b"NOETHER_BODY_TIMEOUT_SECONDS" in answer


def test_reading_needs_the_credential_when_public_read_is_off(stack_factory):
    closed = stack_factory(workers=0, api_token=TOKEN, public_read=False)
    with httpx.Client(base_url=closed.url, timeout=60) as http:
        assert http.get("/api/runs").status_code == 401
        assert http.get("/api/health").status_code == 200  # health stays open for load balancers
        page = http.get("/runs?status=queued")
        assert page.status_code == 303 and page.headers["location"] == "/signin?next=%2Fruns%3Fstatus%3Dqueued"
        assert "Sign in" in http.get("/signin").text
        assert http.post("/_dash-update-component", json={}).status_code == 401
        assert http.get("/api/runs", headers=BEARER).status_code == 200
        assert http.get("/runs", headers=sign_in(http)).status_code == 200
    import websockets.sync.client as ws

    with pytest.raises(Exception, match="403|1008|rejected"):
        with ws.connect(f"ws://127.0.0.1:{closed.url.rsplit(':', 1)[1]}/api/runs/whatever1/stream", open_timeout=30):
            pass


def test_without_a_token_nothing_asks_to_sign_in(stack_factory):
    open_lab = stack_factory(workers=0)
    with httpx.Client(base_url=open_lab.url, timeout=60) as http:
        run_id = http.post("/api/runs", json={"spec": TINY}).json()["id"]
        done = http.post("/_dash-update-component", json=cancel_callback(http, run_id))
        assert "cancel requested" in done.text
        assert status(http, run_id)["status"] == "cancelled"
        assert "no token" in http.get("/signin").text


def test_the_internal_address_is_a_setting_not_a_header():
    from labsettings import Settings

    assert Settings(_env_file=None, port=8123).internal_api_url == "http://127.0.0.1:8123"
    assert Settings(_env_file=None, host="0.0.0.0", port=9).internal_api_url == "http://127.0.0.1:9"
    assert Settings(_env_file=None, api_url="http://api:8050/").internal_api_url == "http://api:8050"


@pytest.mark.parametrize("given, kept", [("/runs/abc?x=1", "/runs/abc?x=1"), ("//evil.example", "/"),
                                         ("https://evil.example", "/"), ("/\t/evil.example", "/"),
                                         ("/\\evil.example", "/"), ("", "/")])
def test_sign_in_returns_only_to_a_page_of_this_lab(http, given, kept):
    resp = http.post("/signin", data={"token": TOKEN, "next": given})
    assert resp.status_code == 303 and resp.headers["location"] == kept
