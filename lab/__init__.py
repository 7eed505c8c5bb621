"""The assembled product: settings, the `noether` command, the embedded launcher."""
