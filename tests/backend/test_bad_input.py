"""Every bad input is a clear 4xx naming field, bound and value, and nothing non-finite is stored (issue 10, items
5 and 6).

Most checks run the API in-process against a real Redis database (no worker: what it accepts stays queued);
the raw-HTTP ones (a path with '..', keep-alive after a refusal) go to the whole lab as ``noether up`` runs it.
"""

from __future__ import annotations

import json
import socket

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from backend.app import create_app
from labsettings import Settings

TINY = {"potential": {"kind": "sphere", "dim": 3}, "steps": 5}


@pytest.fixture
def api(redis_db, tmp_path):
    settings = Settings(_env_file=None, redis_url=redis_db(), data_dir=tmp_path / "lab-data")
    with TestClient(create_app(settings, reaper=False), raise_server_exceptions=False) as client:
        yield client


def post_raw(api: TestClient, path: str, text: str):
    """POST a body written by hand (NaN, Infinity, 1e999 and lone surrogates are not what json.dumps writes)."""
    return api.post(path, content=text.encode(), headers={"content-type": "application/json"})


def nothing_stored(api: TestClient) -> bool:
    return api.get("/api/runs").json()["total"] == 0


NON_FINITE = [("NaN", "nan"), ("Infinity", "inf"), ("-Infinity", "-inf"), ("1e999", "inf")]
BOUNDED = [  # (spec fields as JSON text with X for the value, the location the 422 names)
    ('"dynamics": {"kind": "gd", "lr": X}', ["dynamics", "gd", "lr"]),
    ('"potential": {"kind": "sphere", "dim": 3, "radius": X}', ["potential", "sphere", "radius"]),
    ('"tolerance": X', ["tolerance"]),
    ('"dynamics": {"kind": "general", "k1": "0", "dt": X}', ["dynamics", "general", "dt"]),
    ('"dynamics": {"kind": "rk4", "t0": X}', ["dynamics", "rk4", "t0"]),
    ('"initial": {"position": [X, 0.1, 0.1]}', ["initial", "position", 0]),
]


@pytest.mark.parametrize("literal, echoed", NON_FINITE, ids=[n[0] for n in NON_FINITE])
@pytest.mark.parametrize("fields, loc", BOUNDED, ids=[b[1][-1] if isinstance(b[1][-1], str) else "position"
                                                      for b in BOUNDED])
def test_a_non_finite_number_is_a_422_naming_field_and_value_and_nothing_is_stored(api, fields, loc, literal, echoed):
    body = '{"spec": {"potential": {"kind": "sphere", "dim": 3}, "steps": 5, ' + fields.replace("X", literal) + "}}"
    if "potential" in fields:
        body = '{"spec": {"steps": 5, ' + fields.replace("X", literal) + "}}"
    resp = post_raw(api, "/api/runs", body)
    assert resp.status_code == 422, resp.text
    errs = resp.json()["detail"]
    assert any(e["loc"] == ["body", "spec", *loc] and "finite" in e["msg"] and e["input"] == echoed for e in errs), errs
    assert nothing_stored(api)


def test_a_velocity_scale_of_infinity_is_refused_through_preset_overrides(api):
    resp = post_raw(api, "/api/runs", '{"preset": "toy-nd", "overrides": {"dynamics.lr": NaN}}')
    err = resp.json()["detail"][0]
    assert resp.status_code == 422 and err["loc"][:3] == ["body", "overrides", "dynamics"] and err["input"] == "nan"
    resp = post_raw(api, "/api/validate", '{"preset": "fig1-gd", "overrides": {"initial.velocity_scale": 1e999}}')
    assert resp.status_code == 422 and resp.json()["detail"][0]["input"] == "inf"
    assert nothing_stored(api)


@pytest.mark.parametrize("field", ["steps", "seed", "record_every"])
def test_a_boolean_is_not_an_integer(api, field):
    resp = api.post("/api/runs", json={"spec": {**TINY, field: True}})
    assert resp.status_code == 422
    err = resp.json()["detail"][0]
    assert err["loc"] == ["body", "spec", field] and "integer" in err["msg"] and err["input"] is True
    assert nothing_stored(api)


SPEC = json.dumps(TINY)
NOT_UNICODE = [  # (body as JSON text, the location the 422 names, the value it echoes, with the escape written out)
    ('{"spec": ' + SPEC + ', "note": "a \\ud800 note"}', ["body", "note"], "a \\ud800 note"),
    ('{"spec": ' + SPEC + ', "tags": ["\\ud800"]}', ["body", "tags", 0], "\\ud800"),
    ('{"spec": {"potential": {"kind": "sphere"}, "name": "\\udfff"}}', ["body", "spec", "name"], "\\udfff"),
    ('{"preset": "toy-nd\\ud800"}', ["body", "preset"], "toy-nd\\ud800"),
]


@pytest.mark.parametrize("body, loc, echoed", NOT_UNICODE, ids=["note", "tag", "name", "preset"])
def test_text_that_is_not_unicode_is_a_422_not_a_500(api, body, loc, echoed):
    resp = post_raw(api, "/api/runs", body)
    assert resp.status_code == 422, resp.text
    err = resp.json()["detail"][0]
    assert err["loc"] == loc and err["input"] == echoed, err
    assert nothing_stored(api)


def test_a_note_that_is_not_unicode_cannot_be_patched_in(api):
    run = api.post("/api/runs", json={"spec": TINY, "id": "unicode-run-1"}).json()
    resp = api.patch(f"/api/runs/{run['id']}", content=b'{"note": "\\ud800"}', headers={"content-type": "application/json"})
    assert resp.status_code == 422 and resp.json()["detail"][0]["loc"] == ["body", "note"]
    assert api.get(f"/api/runs/{run['id']}").json()["note"] == ""


def test_an_override_path_of_3000_dots_is_a_422_naming_the_bound(api):
    for path in ("." * 3000, "dynamics" + ".a" * 3000, "a" * 500):
        resp = api.post("/api/runs", json={"preset": "toy-nd", "overrides": {path: 1}})
        assert resp.status_code == 422, resp.text
        assert "at most" in resp.json()["detail"][0]["msg"] or "is not a field path" in resp.json()["detail"][0]["msg"]
    resp = api.post("/api/runs", json={"preset": "toy-nd", "overrides": {"dynamics" + ".a" * 3000: 1}})
    assert "at most 200 characters (got 6008)" in resp.json()["detail"][0]["msg"]
    resp = api.post("/api/runs", json={"preset": "toy-nd", "overrides": {"dynamics" + ".a" * 20: 1}})
    err = resp.json()["detail"][0]
    assert "at most 8 parts" in err["msg"] and "(got 21)" in err["msg"] and err["loc"][:2] == ["body", "overrides"]
    resp = api.post("/api/sweeps", json={"preset": "toy-nd", "grid": {"seed" + ".x" * 3000: [1]}})
    assert resp.status_code == 422 and "at most 200 characters" in resp.json()["detail"][0]["msg"]
    assert nothing_stored(api)


def test_a_deeply_nested_override_or_grid_value_is_a_422_naming_the_bound(api):
    deep = "[" * 900 + "1" + "]" * 900  # json.loads takes it; copying it into the spec would recurse too deep
    for path, body in (("/api/runs", '{"preset": "toy-nd", "overrides": {"dynamics.lr": %s}}'),
                       ("/api/sweeps", '{"preset": "toy-nd", "grid": {"seed": [%s]}}')):
        resp = post_raw(api, path, body.replace("%s", deep))
        assert resp.status_code == 422, resp.text
        err = resp.json()["detail"][0]
        assert "at most 8 deep" in err["msg"] and err["loc"][1] in ("overrides", "grid")
    assert nothing_stored(api)


def test_a_missing_data_set_is_refused_at_submit_without_revealing_the_data_directory(api, tmp_path):
    spec = {"model": {"widths": [784, 8, 10]}, "data": {"kind": "file", "name": "kmnist"}, "steps": 5}
    for path, body in (("/api/runs", {"spec": spec}), ("/api/validate", {"spec": spec}),
                       ("/api/runs", {"preset": "fig1-gd", "overrides": {"data": {"kind": "file", "name": "kmnist"}}}),
                       ("/api/sweeps", {"spec": {**spec, "data": {"kind": "synthetic", "samples": 10}},
                                        "grid": {"data": [{"kind": "file", "name": "kmnist"}]}})):
        resp = api.post(path, json=body)
        assert resp.status_code == 422, resp.text
        err = resp.json()["detail"][0]
        assert err["loc"][-2:] == ["data", "name"] and err["input"] == "kmnist" and "kmnist" in err["msg"], err
        assert "NOETHER_DATA_DIR" in err["msg"] and str(tmp_path) not in resp.text
    assert nothing_stored(api)
    (tmp_path / "lab-data" / "datasets" / "kmnist").mkdir(parents=True)
    assert api.post("/api/validate", json={"spec": spec}).status_code == 200


@pytest.mark.parametrize("case, where", [
    ({"k1": "3/t", "t0": 0.0}, "t=0"),
    ({"k1": "0", "k2": "1/t", "t0": 0.0}, "t=0"),
    ({"k1": "log(t)", "t0": 0.0}, "t=0"),
    ({"k1": "0", "k2": "1/(1-t)", "t0": 0.0, "dt": 0.01}, "t=1,"),
])
def test_expressions_are_checked_over_the_whole_run(api, case, where):
    spec = {**TINY, "steps": 200, "dynamics": {"kind": "general", **case}}
    resp = api.post("/api/runs", json={"spec": spec})
    assert resp.status_code == 422, resp.text
    msg = resp.json()["detail"][0]["msg"]
    text = case["k2"] if "/" in case.get("k2", "") else case["k1"]
    assert f"'{text}'" in msg and where in msg.replace(" ", ""), msg
    assert nothing_stored(api)


# --- through the whole lab, over raw HTTP ---------------------------------------------------------


def raw_requests(url: str, requests: list[bytes]) -> list[tuple[int, dict[str, str], bytes]]:
    """Send ``requests`` one after the other on ONE keep-alive connection; (status, headers, body) of each."""
    host, port = url.removeprefix("http://").split(":")
    out = []
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        buf = b""
        for req in requests:
            sock.sendall(req)
            while b"\r\n\r\n" not in buf:
                chunk = sock.recv(65536)
                assert chunk, "the server closed the connection"
                buf += chunk
            head, _, buf = buf.partition(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
            length = int(headers.get("content-length", "0"))
            while len(buf) < length:
                chunk = sock.recv(65536)
                assert chunk, "the server closed the connection"
                buf += chunk
            body, buf = buf[:length], buf[length:]
            out.append((int(lines[0].split()[1]), headers, body))
    return out


def request(method: str, path: str, body: bytes = b"") -> bytes:
    head = f"{method} {path} HTTP/1.1\r\nHost: lab\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    return head.encode() + body


def test_odd_paths_under_api_answer_json_not_the_dashboard(lab):
    for path in ("/api/runs/..", "/api/runs/../..", "/api/..", "/api/runs/%2e%2e", "/api/runs/.", "/api/"):
        ((status, headers, body),) = raw_requests(lab.url, [request("GET", path)])
        assert 400 <= status < 500 and headers["content-type"] == "application/json", (path, status, body[:200])
        assert "detail" in json.loads(body)


def test_refusals_keep_the_connection_alive(lab):
    deep = json.dumps({"preset": "toy-nd", "overrides": {"." * 3000: 1}}).encode()
    nan = b'{"spec": {"potential": {"kind": "sphere"}, "dynamics": {"kind": "gd", "lr": NaN}}}'
    note = b'{"spec": {"potential": {"kind": "sphere"}}, "note": "\\ud800"}'
    answers = raw_requests(lab.url, [request("POST", "/api/validate", deep), request("POST", "/api/validate", nan),
                                     request("POST", "/api/validate", note), request("GET", "/api/health")])
    assert [a[0] for a in answers] == [422, 422, 422, 200]
    assert json.loads(answers[1][2])["detail"][0]["input"] == "nan"


def test_a_redis_error_does_not_reveal_the_data_directory(tmp_path):
    socket_path = tmp_path / "lab-data" / "redis.sock"  # a Redis on a unix socket in the data directory, down
    settings = Settings(_env_file=None, redis_url=f"unix://{socket_path}", data_dir=tmp_path / "lab-data")
    with TestClient(create_app(settings, reaper=False), raise_server_exceptions=False) as down:
        resp = down.get("/api/runs")
    assert resp.status_code == 503 and "Redis" in resp.json()["detail"]
    assert str(tmp_path) not in resp.text and "NOETHER_DATA_DIR" in resp.text, resp.text


def test_a_failed_runs_reason_does_not_reveal_the_data_directory(tmp_path):
    from workers.task import _one_line

    data = tmp_path / "lab-data"
    exc = PermissionError(13, "Permission denied", str(data / "runs" / "abc" / "series.parquet"))
    reason = _one_line(exc, hide=data)
    assert str(tmp_path) not in reason and reason.startswith("PermissionError: [Errno 13] Permission denied")
    assert "NOETHER_DATA_DIR/runs/abc/series.parquet" in reason


# --- fuzz: any JSON value (NaN, infinities, lone surrogates, nesting) anywhere in a spec is a 4xx, never a 5xx --

JSON_TEXT = st.text(alphabet=st.characters(min_codepoint=0, max_codepoint=0xFFFF), max_size=12)  # surrogates too
JSON_VALUE = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats(allow_nan=True, allow_infinity=True)
    | JSON_TEXT,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(JSON_TEXT, inner, max_size=4),
    max_leaves=12,
)
SPEC_PATHS = ["steps", "seed", "tolerance", "name", "initial.position", "initial.velocity_scale", "dynamics.lr",
              "dynamics.t0", "dynamics.k1", "potential.radius", "potential.dim", "potential", "dynamics", "tags"]


@pytest.mark.slow
def test_no_json_value_in_any_field_gives_a_server_error(api):
    @settings(max_examples=60, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    @given(path=st.sampled_from(SPEC_PATHS), value=JSON_VALUE, as_override=st.booleans())
    def check(path, value, as_override):
        if as_override:
            body = {"preset": "toy-nd", "overrides": {path: value}}
        else:
            body = {"spec": put({"potential": {"kind": "sphere", "dim": 3}, "steps": 5}, path, value)}
        text = json.dumps(body, allow_nan=True)  # writes NaN and Infinity, and escapes surrogates as \\udxxx
        resp = post_raw(api, "/api/validate", text)
        assert resp.status_code in (200, 422), (text[:300], resp.status_code, resp.text[:300])
        resp.json()  # the answer is valid JSON

    check()


def put(base: dict, path: str, value) -> dict:
    out = json.loads(json.dumps(base))
    node = out
    parts = path.split(".")
    for part in parts[:-1]:
        node = node.setdefault(part, {})
    node[parts[-1]] = value
    return out
