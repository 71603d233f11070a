"""The `tracelib` command line (installed as the `tracelib_cli` package)."""
