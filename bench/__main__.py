"""``python -m bench [NAME ...] [-- ARGS]``: run the named benchmarks (all that exist when none is named).

Each benchmark is a module ``bench/<name>.py`` with ``main(argv: list[str]) -> int``. Arguments after
the name go to that benchmark, e.g. ``python -m bench engine --steps 50``.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys

KNOWN = ("engine", "api", "dashboard", "discovery", "load", "monitor")


def available() -> list[str]:
    return [name for name in KNOWN if importlib.util.find_spec(f"bench.{name}") is not None]


def main(argv: list[str]) -> int:
    if argv and argv[0] in ("-h", "--help"):
        print(__doc__.strip())
        print("available:", ", ".join(available()) or "none")
        return 0
    if argv and not argv[0].startswith("-"):
        name, rest = argv[0], argv[1:]
        if name not in available():
            print(f"unknown benchmark '{name}' (available: {', '.join(available())})", file=sys.stderr)
            return 2
        return importlib.import_module(f"bench.{name}").main(rest)
    code = 0
    for name in available():
        print(f"== bench {name}", flush=True)
        code = max(code, importlib.import_module(f"bench.{name}").main([]))
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
