"""Signing in to a lab with a token, in headless Chromium: signed out the dashboard says to sign in and
changes nothing; signed in, the same button works (issue 10, item 1)."""

from __future__ import annotations

import httpx
import pytest

TOKEN = "browser-t0ken"
TINY = {"potential": {"kind": "sphere", "dim": 3}, "steps": 5}

pytestmark = pytest.mark.timeout(300)


def run_status(lab, run_id: str) -> str:
    return httpx.get(f"{lab.api}/runs/{run_id}", timeout=30).json()["status"]


def test_sign_in_then_cancel_a_run(stack_factory, page):
    lab = stack_factory(workers=0, api_token=TOKEN)  # no worker: the run stays queued until cancelled
    resp = httpx.post(f"{lab.api}/runs", json={"spec": TINY}, headers={"Authorization": f"Bearer {TOKEN}"},
                      timeout=30)
    run_id = resp.json()["id"]

    page.goto(f"{lab.url}/runs/{run_id}")
    page.wait_for_function("() => document.querySelector('#run-status')?.innerText === 'queued'")
    page.locator("#run-cancel").click()
    page.wait_for_function("() => /sign in/i.test(document.querySelector('#run-cancel-msg')?.innerText || '')")
    assert run_status(lab, run_id) == "queued"

    page.locator("#nav-signin").click()
    page.wait_for_url("**/signin")
    page.fill("#signin-token", "not-the-token")
    page.click("#signin-submit")
    assert "not this lab's token" in page.locator("#signin-error").inner_text()

    page.goto(f"{lab.url}/signin?next=/runs/{run_id}")
    page.fill("#signin-token", TOKEN)
    page.click("#signin-submit")
    page.wait_for_url(f"**/runs/{run_id}")
    cookie = next(c for c in page.context.cookies() if c["name"] == "noether_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    page.wait_for_function("() => document.querySelector('#run-status')?.innerText === 'queued'")
    page.locator("#run-cancel").click()
    page.wait_for_function("() => document.querySelector('#run-cancel-msg')?.innerText === 'cancel requested'")
    page.wait_for_function("() => document.querySelector('#run-status')?.innerText === 'cancelled'", timeout=30_000)
    assert run_status(lab, run_id) == "cancelled"
    page.wait_for_function("() => document.querySelector('#run-cancel')?.hidden === true")  # nothing left to cancel
    assert not page.errors
