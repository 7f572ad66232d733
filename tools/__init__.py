"""Developer tools, outside the installed package (run from the repository root: `python -m tools.<name>`)."""
