"""The operator command line, `assessment` (pipelines/cli/app.py); runs start in pipelines/cli/runner.py."""

from pipelines.cli.app import app, main

__all__ = ["app", "main"]
