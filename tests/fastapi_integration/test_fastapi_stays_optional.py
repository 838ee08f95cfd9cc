"""`import conveyor` works without FastAPI: the integration is the `conveyor[fastapi]` extra."""

from __future__ import annotations

import subprocess
import sys


def test_importing_conveyor_does_not_import_fastapi() -> None:
    probe = "import sys, conveyor, conveyor.cli; print(sorted(m for m in sys.modules if m.split('.')[0] in ('fastapi', 'starlette')))"  # noqa: E501
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == "[]"
