"""A whole spec in a URL: ``/?spec=<urlsafe base64 of its JSON>`` opens the launch form filled with it.

"Edit in form" on a card and "Edit and re-run" on a run page link there, so that Back, reload and a shared
link restore the form. Decoding is strict: size-bounded, JSON only, an object at the top level.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any
from urllib.parse import quote

MAX_ENCODED = 24_000  # characters of the query value (a spec with long lists stays far below)


class SpecUrlError(ValueError):
    """A ``spec`` query value that is not an encoded spec."""


def encode_spec(spec: dict[str, Any]) -> str:
    """The compact JSON of ``spec`` in urlsafe base64, padding stripped."""
    blob = json.dumps(spec, separators=(",", ":"), sort_keys=True).encode()
    return base64.urlsafe_b64encode(blob).decode().rstrip("=")


def decode_spec(text: str) -> dict[str, Any]:
    """The spec a ``spec`` query value holds; SpecUrlError with the reason otherwise."""
    if not isinstance(text, str) or not text:
        raise SpecUrlError("the link holds no spec")
    if len(text) > MAX_ENCODED:
        raise SpecUrlError(f"the spec in the link must be at most {MAX_ENCODED} characters (got {len(text)})")
    try:
        blob = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        spec = json.loads(blob.decode())
    except (binascii.Error, UnicodeDecodeError, json.JSONDecodeError, ValueError):
        raise SpecUrlError("the spec in the link is not valid (expected urlsafe base64 of JSON)") from None
    if not isinstance(spec, dict):
        raise SpecUrlError("the spec in the link must be a JSON object")
    return spec


def launch_href(spec: dict[str, Any]) -> str:
    """The launch page with the form filled from ``spec``."""
    return "/?spec=" + quote(encode_spec(spec))
