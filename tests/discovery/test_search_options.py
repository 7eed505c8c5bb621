"""The user's discovery options reach the search: every knob the two share, by name (no field-by-field copy)."""

from __future__ import annotations

import dataclasses

from noether.discovery import DiscoveryOptions
from noether.discovery.discover import search_options
from noether.discovery.search import SearchOptions

SHARED = {"points", "oversample", "tolerance", "data_tolerance", "z_max", "gl_joint_max", "gl_max", "joint_max",
          "families", "seed"}


def test_every_option_the_search_knows_reaches_it_and_the_rest_keep_their_defaults():
    options = DiscoveryOptions(points=9, oversample=4.0, tolerance=1e-4, data_tolerance=0.1, z_max=5.0,
                               gl_joint_max=4, gl_max=64, joint_max=128, families=["mix", "rotation"], seed=7)
    got = search_options(options)
    assert {f.name for f in dataclasses.fields(SearchOptions)} & set(DiscoveryOptions.model_fields) == SHARED
    assert {name: getattr(got, name) for name in SHARED - {"families"}} == options.model_dump(include=SHARED - {"families"})
    assert got.families == ("mix", "rotation")
    assert (got.min_rows, got.screen_rows) == (SearchOptions.min_rows, SearchOptions.screen_rows)
