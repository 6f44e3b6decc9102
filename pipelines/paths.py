"""Where things live on disk. One env var moves the whole data tree (tests point it at a tmp dir)."""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
REFERENCE_DIR = PROJECT_ROOT / "data" / "reference"


def data_dir() -> Path:
    """Root of generated data: landing, archive, ground truth and warehouse files."""
    return Path(os.environ.get("ASSESSMENT_DATA_DIR", PROJECT_ROOT / "data")).resolve()


def landing_dir() -> Path:
    return data_dir() / "landing"


def ground_truth_dir() -> Path:
    return data_dir() / "ground_truth"
