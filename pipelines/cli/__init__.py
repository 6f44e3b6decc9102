"""The operator command line, `assessment` (pipelines/cli/app.py); runs start in pipelines/cli/runner.py.

Nothing is imported here: the modules of this package import each other through it, and `--help` should
not load more than the command table."""
