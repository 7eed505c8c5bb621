"""Noether: conservation laws of neural-network training dynamics (Głuch & Urbanke), measured.

The science core: spec, models, data, dynamics, laws, discovery and the driver loop. It imports torch
and numpy, never redis, fastapi or dash.
"""

__version__ = "0.1.0"
