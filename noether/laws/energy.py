"""(being written) laws of the energy family."""

from __future__ import annotations

ENTRIES: list = []


def select(spec, structure, context, ws):
    return [], []
