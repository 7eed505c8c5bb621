"""Benchmarks: each prints ratios against a baseline measured in the same run (never absolute claims).

Run one with ``python -m bench NAME`` (engine, api, dashboard, discovery), or all with ``python -m bench``.
"""
