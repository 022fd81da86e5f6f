"""Make `src/` importable when the package has not been installed into the venv yet.

`make` installs Ensign in editable mode; this fallback lets `pytest tests/unit/model` run on
a checkout where only the venv's dependencies are present.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

if importlib.util.find_spec("ensign") is None:  # pragma: no cover - depends on the environment
    sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "src"))
