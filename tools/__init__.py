"""Developer tools (not installed with the package): run them as `python -m tools.<name>`."""
