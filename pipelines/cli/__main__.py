"""`python -m pipelines.cli …` is `assessment …`."""

from pipelines.cli.app import main

raise SystemExit(main())
