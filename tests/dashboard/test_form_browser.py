"""The launch form in a real headless Chromium against the real lab (issue 12 items 1 and 7): it never changes what
the user did not touch, says what a kind switch changed, lives in the URL (Back, reload, a shared link), and its
dynamics picker describes each kind and takes 'sgd' + Enter as sgd.

Each test saves a screenshot of its page (conftest) and the key moments as test-artifacts/screenshots/form-*.png.
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlparse

import pytest
from playwright.sync_api import expect

from dashboard.specurl import decode_spec, launch_href

from .conftest import SHOTS
from .test_browser import error_selector, field_selector

pytestmark = [pytest.mark.browser, pytest.mark.timeout(240)]

NETWORK_FIELDS = (("model.widths", "widths", "64-128-128-10"), ("model.activation", "activation", "swish(1)"),
                  ("dynamics.lr", "number", "0.07"), ("steps", "integer", "500"))


def shot(page, name: str) -> None:
    """The custom-experiment form (pickers, change note, fields, messages) as test-artifacts/screenshots/form-<name>.png."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.locator("div.form").first.screenshot(path=str(SHOTS / f"form-{name}.png"))


def url_spec(page) -> dict:
    """The spec the address bar holds (``/?spec=``)."""
    return decode_spec(parse_qs(urlparse(page.url).query)["spec"][0])


def field(page, path: str, kind: str):
    loc = page.locator(field_selector(path, kind))
    loc.wait_for()
    return loc


def type_into(page, path: str, kind: str, value: str) -> None:
    box = field(page, path, kind)
    box.fill(value)
    box.press("Enter")


def expect_values(page, fields) -> None:
    for path, kind, value in fields:
        expect(page.locator(field_selector(path, kind))).to_have_value(value, timeout=30_000)


def pick(page, picker: str, kind: str) -> None:
    """Open a kind picker and click one of its options."""
    page.locator(f"#{picker}").click()
    page.get_by_role("option").filter(has_text=f"{kind} ·").first.click()


def open_form(page, url: str) -> None:
    page.goto(url)
    page.locator("#launch-card-toy-nd").wait_for()  # the gallery is in: the page's layout is final
    field(page, "dynamics.lr", "number")
    page.evaluate("() => document.getElementById('launch-custom').scrollIntoView()")  # menus open downwards


def test_switching_dynamics_keeps_every_untouched_field_says_what_it_added_and_survives_back(lab, page):
    open_form(page, lab.url + "/")
    assert "spec=" not in page.url  # an untouched form keeps its plain address
    for path, kind, value in NETWORK_FIELDS:
        type_into(page, path, kind, value)
    page.wait_for_function("() => location.search.includes('spec=')")  # the form's state is in the URL
    pick(page, "launch-kind-dynamics", "sgd")
    expect(page.locator(field_selector("dynamics.batch_size", "integer"))).to_have_value("32", timeout=30_000)
    expect_values(page, NETWORK_FIELDS)  # nothing the user set has moved
    note = page.locator("#launch-change-note")
    expect(note).to_contain_text("added batch_size = 32")
    assert "from gd to sgd" in note.inner_text() and "Nothing else changed." in note.inner_text()
    shot(page, "switched-to-sgd")
    page.wait_for_function("() => location.search.includes('spec=')")
    expect(page.locator("#launch-change-note")).to_contain_text("sgd")
    page.wait_for_function("(href) => location.pathname + location.search !== href", arg="/")
    spec = url_spec(page)
    assert spec["dynamics"] == {"kind": "sgd", "lr": 0.07, "batch_size": 32}
    assert spec["model"]["widths"] == [64, 128, 128, 10] and spec["model"]["activation"] == "swish(1)"
    assert spec["steps"] == 500
    # the form checks out as the user set it
    page.locator("#launch-validate").click()
    page.locator("#launch-valid").get_by_text("The spec is valid").wait_for(timeout=60_000)
    # leave for another page, then Back: the form is as it was left
    page.locator("#nav-runs").click()
    page.wait_for_url("**/runs")
    page.go_back()
    page.wait_for_function("() => location.search.includes('spec=')")
    expect_values(page, (*NETWORK_FIELDS, ("dynamics.batch_size", "integer", "32")))
    expect(page.locator("#launch-kind-dynamics")).to_contain_text("sgd")
    # and reload
    page.reload()
    expect_values(page, (*NETWORK_FIELDS, ("dynamics.batch_size", "integer", "32")))
    shot(page, "after-back-and-reload")
    # other data: only the widths that depend on it (the input size) change, and the note says so
    page.evaluate("() => document.getElementById('launch-custom').scrollIntoView()")
    page.locator("#launch-kind-data").click()
    page.get_by_role("option", name="synthetic", exact=True).click()
    expect(page.locator(field_selector("model.widths", "widths"))).to_have_value("784-128-128-10", timeout=30_000)
    expect(page.locator("#launch-change-note")).to_contain_text("784-128-128-10")
    expect_values(page, (*NETWORK_FIELDS[1:], ("dynamics.batch_size", "integer", "32"), ("data.samples", "integer", "200")))
    shot(page, "switched-data")
    assert not page.errors


def test_edit_in_form_then_nag_keeps_the_presets_learning_rate(lab, page):
    open_form(page, lab.url + "/")
    page.locator("#launch-card-toy-nd").get_by_role("button", name="Edit in form").click()
    page.wait_for_url("**/?spec=*")
    expect(page.locator(field_selector("dynamics.lr", "number"))).to_have_value("0.0001", timeout=30_000)
    untouched = [(p, k, page.locator(field_selector(p, k)).input_value())
                 for p, k in (("initial.position", "list"), ("initial.velocity", "list"), ("steps", "integer"),
                              ("potential.dim", "integer"), ("record_every", "integer"))]
    page.evaluate("() => document.getElementById('launch-custom').scrollIntoView()")
    pick(page, "launch-kind-dynamics", "nag")
    expect(page.locator(field_selector("dynamics.t0", "number"))).to_have_value("0", timeout=30_000)
    expect_values(page, (("dynamics.lr", "number", "0.0001"), *untouched))
    expect(page.locator("#launch-change-note")).to_contain_text("from nd to nag added t0 = 0")
    shot(page, "toy-nd-to-nag")
    page.wait_for_function("() => location.search.includes('spec=')")
    page.wait_for_function("() => { try { return JSON.parse(atob(new URLSearchParams(location.search).get('spec')"
                           ".replace(/-/g, '+').replace(/_/g, '/'))).dynamics.kind === 'nag'; } catch (e) { return false; } }")
    assert url_spec(page)["dynamics"] == {"kind": "nag", "lr": 0.0001, "t0": 0}
    assert not page.errors


def test_a_shared_form_link_restores_the_spec_exactly(lab, browser, page):
    spec = {"model": {"widths": [64, 128, 128, 10], "activation": "swish(1)"},
            "data": {"kind": "digits", "samples": 300}, "dynamics": {"kind": "momentum", "lr": 0.07, "beta": 0.8},
            "steps": 500, "seed": 7}
    open_form(page, lab.url + launch_href(spec))
    expect_values(page, (("model.widths", "widths", "64-128-128-10"), ("model.activation", "activation", "swish(1)"),
                         ("data.samples", "integer", "300"), ("dynamics.lr", "number", "0.07"),
                         ("dynamics.beta", "number", "0.8"), ("steps", "integer", "500"), ("seed", "integer", "7")))
    expect(page.locator("#launch-kind-dynamics")).to_contain_text("momentum")
    # a field the link leaves out is empty and says the default it runs with
    weight_decay = field(page, "dynamics.weight_decay", "number")
    assert weight_decay.input_value() == "" and weight_decay.get_attribute("placeholder") == "empty: the default, 0"
    assert field(page, "record_every", "integer").get_attribute("placeholder") == "empty: the default, 1"
    shot(page, "shared-link")
    # the same link in another browser gives the same form, and running it runs that spec
    other = browser.new_context(viewport={"width": 1400, "height": 1100}).new_page()
    try:
        open_form(other, page.url)
        expect_values(other, (("dynamics.beta", "number", "0.8"), ("seed", "integer", "7")))
    finally:
        other.context.close()
    page.locator("#launch-validate").click()
    page.locator("#launch-valid").get_by_text("The spec is valid").wait_for(timeout=60_000)
    assert not page.errors


def test_the_dynamics_picker_describes_each_kind_and_takes_sgd_then_enter_as_sgd(lab, page):
    open_form(page, lab.url + "/")
    page.locator("#launch-kind-dynamics").click()
    options = page.get_by_role("option").filter(has_text=" · ")
    expect(options.filter(has_text="sgd ·")).to_contain_text("Stochastic gradient descent (SGD)")  # the core kind record's label
    texts = options.all_inner_texts()
    assert len(texts) >= 9 and all(" · " in t and len(t.split(" · ", 1)[1]) > 10 for t in texts), texts
    shot(page, "dynamics-options")
    page.keyboard.type("sgd")
    page.keyboard.press("Enter")
    expect(page.locator(field_selector("dynamics.batch_size", "integer"))).to_have_value("32", timeout=30_000)
    expect(page.locator("#launch-kind-dynamics")).to_contain_text("sgd")
    assert not page.errors


def test_a_huge_width_says_so_once_and_the_summary_links_to_the_field(lab, page):
    open_form(page, lab.url + "/")
    type_into(page, "model.widths", "widths", "64-100000-10")
    page.locator("#launch-validate").click()
    message = page.locator(error_selector("model.widths"))
    expect(message).to_contain_text("4096", timeout=60_000)
    text = page.locator(".launch").inner_text()
    assert text.count("less than or equal to 4096") == 1, text
    link = page.locator("#launch-errors a").first
    expect(link).to_contain_text("model.widths")
    page.evaluate("() => window.scrollTo(0, document.body.scrollHeight)")  # the field is out of view
    link.click()
    page.wait_for_function("() => { const r = document.getElementById('launch-box-model-widths')"
                           ".getBoundingClientRect(); return r.top >= 0 && r.bottom <= window.innerHeight; }")
    shot(page, "huge-width")
    assert not page.errors


def test_batch_norm_is_in_the_form_and_survives_edit_in_form_and_a_shared_link(lab, page):
    """Issue 12 (the researcher): the form had no BatchNorm. The batchnorm preset's per-layer flags come into the form
    with "Edit in form" and stay in the URL; a shared link with batch_norm true shows the checkbox checked, and
    unticking it is what the URL then holds."""
    open_form(page, lab.url + "/")
    assert page.locator("label.field-label", has_text="learning rate (lr)").count() == 1  # readable labels
    page.locator("#launch-card-batchnorm-scale").get_by_role("button", name="Edit in form").click()
    page.wait_for_url("**/?spec=*")
    expect(page.locator(field_selector("model.batch_norm", "flaglist"))).to_have_value("yes, no", timeout=30_000)
    assert url_spec(page)["model"]["batch_norm"] == [True, False]
    type_into(page, "dynamics.lr", "number", "0.1")  # a change elsewhere: the URL follows, the flags stay
    page.wait_for_function("() => location.search.includes('spec=')")
    page.wait_for_function("() => { try { return JSON.parse(atob(new URLSearchParams(location.search).get('spec')"
                           ".replace(/-/g, '+').replace(/_/g, '/'))).dynamics.lr === 0.1; } catch (e) { return false; } }")
    assert url_spec(page)["model"]["batch_norm"] == [True, False]
    page.reload()
    expect(page.locator(field_selector("model.batch_norm", "flaglist"))).to_have_value("yes, no", timeout=30_000)
    shot(page, "batchnorm-per-layer")
    # a shared link with the bool form: the checkbox, checked, labelled, with the schema's description beside it
    spec = {"model": {"widths": [64, 32, 10], "activation": "relu", "batch_norm": True},
            "data": {"kind": "digits", "samples": 200}, "dynamics": {"kind": "gd", "lr": 0.1}, "steps": 100}
    open_form(page, lab.url + launch_href(spec))
    box = page.locator("#launch-box-model-batch-norm")
    expect(box.locator("label.field-label")).to_have_text("BatchNorm after each hidden layer (batch_norm)")
    expect(box.locator(".field-hint")).to_contain_text("BatchNorm without affine parameters")
    checkbox = box.locator("input[type=checkbox]")
    expect(checkbox).to_be_checked(timeout=30_000)
    shot(page, "batchnorm-checkbox")
    checkbox.uncheck()
    page.wait_for_function("() => { try { return JSON.parse(atob(new URLSearchParams(location.search).get('spec')"
                           ".replace(/-/g, '+').replace(/_/g, '/'))).model.batch_norm === false; } catch (e) { return false; } }")
    checkbox.check()
    page.wait_for_function("() => { try { return JSON.parse(atob(new URLSearchParams(location.search).get('spec')"
                           ".replace(/-/g, '+').replace(/_/g, '/'))).model.batch_norm === true; } catch (e) { return false; } }")
    page.locator("#launch-validate").click()
    page.locator("#launch-valid").get_by_text("The spec is valid").wait_for(timeout=60_000)
    assert not page.errors
