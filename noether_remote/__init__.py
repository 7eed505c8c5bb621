"""What ``noether.watch`` needs beyond the science core: the lab's HTTP client and plotly figures.

Kept outside ``noether/`` because the core imports no web client and no plotting library
(tests/test_layering.py); ``noether.watch`` imports these lazily, only when a lab URL is given or
``mon.figure()`` is called.
"""
