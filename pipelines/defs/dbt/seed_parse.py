"""The child process of `project.prepare_manifest`: dbt parses the project here, writing manifest.json into
a scratch folder, and the parse is stored in the run's parse cache under the key a default run looks for.

A module of its own because it needs both the resource (the args a default run parses with) and the
in-process runner, and `project` is imported by both of those.
"""

from __future__ import annotations

import sys
from pathlib import Path


def parse_into(scratch: Path, project_dir: Path) -> None:
    from pipelines.defs.dbt.dbt_api import cached_or_parsed
    from pipelines.defs.dbt.resources import default_parse_args

    cached_or_parsed(project_dir, scratch, default_parse_args(), write_json=True)


if __name__ == "__main__":
    parse_into(Path(sys.argv[1]), Path(sys.argv[2]))
