"""noether.naming: a run's readable name and configuration rows, made from its spec."""

from noether import presets
from noether.naming import configuration, describe, overview
from noether.spec import parse_spec


def test_a_network_run_reads_as_the_researcher_would_write_it():
    spec = parse_spec({"model": {"widths": [64, 128, 128, 10], "activation": "swish(1)"}, "data": {"kind": "digits"},
                       "dynamics": {"kind": "sgd", "lr": 0.05, "batch_size": 32}})
    assert describe(spec) == "swish(1) 64-128-128-10 · sgd lr 0.05 · batch 32"
    assert overview(spec) == {"model": "swish(1) 64-128-128-10", "widths": "64-128-128-10", "activation": "swish(1)",
                              "dynamics": "sgd", "lr": 0.05, "steps": 1000}


def test_potentials_and_second_order_dynamics_name_their_coefficients():
    assert describe(presets.get("toy-nag").spec).startswith("sphere potential in R^3 · nag lr 0.0001 · t0")
    general = parse_spec({"potential": {"kind": "sphere"}, "dynamics": {"kind": "general", "k1": "3/t", "k2": "1",
                                                                          "dt": 0.01, "t0": 1.0}})
    assert describe(general) == "sphere potential in R^3 · general dt 0.01 · t0 1 · k1 3/t, k2 1"
    momentum = parse_spec({"model": {"widths": [64, 8, 10], "activation": "leaky_relu(0.2)"}, "data": {"kind": "digits"},
                           "dynamics": {"kind": "momentum", "lr": 0.1, "beta": 0.9, "weight_decay": 0.001}})
    assert describe(momentum) == "leaky_relu(0.2) 64-8-10 · momentum lr 0.1 · beta 0.9 · wd 0.001"


def test_configuration_lists_every_field_that_decides_what_ran():
    rows = dict(configuration(presets.get("fig1-gd").spec))
    assert rows["model"].startswith("MLP 784-200-200-200-10, activation relu")
    assert "synthetic" in rows["data"] and "samples 1000" in rows["data"]
    assert rows["dynamics"].startswith("gd (gradient descent") and "lr 0.01" in rows["dynamics"]
    assert rows["steps"].startswith("1500") and set(rows) >= {"loss", "seed", "dtype", "device asked"}


def test_a_watched_loops_free_form_spec_is_named_from_what_it_says():
    """noether.watch stores what was watched (model class, optimiser...), not a lab spec: no crash, a readable name."""
    spec = {"script": "train_cnn.py", "model": "SmallCNN", "optimizer": "SGD", "every": 10, "laws": [{"id": "x"}]}
    assert describe(spec) == "SmallCNN · SGD · train_cnn.py"
    assert overview(spec)["model"] == "SmallCNN · SGD · train_cnn.py" and overview(spec)["lr"] is None
    assert ("every", "10") in configuration(spec) and all(k != "laws" for k, _ in configuration(spec))
