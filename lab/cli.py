"""The `noether` command: the core's commands (run, presets, laws, discover) and the services' (worker, api, up)."""

from __future__ import annotations

import sys


def main() -> None:
    from noether.cli import app

    app(prog_name="noether")


if __name__ == "__main__":
    sys.exit(main())
