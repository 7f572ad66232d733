"""Standalone measuring tools (run with `python -m bench.tools.<name>`)."""
