"""(being written) laws of the ntk family."""

from __future__ import annotations

ENTRIES: list = []


def select(spec, structure, context, ws):
    return [], []
