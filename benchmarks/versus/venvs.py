"""One virtualenv per peer under benchmarks/.venvs/, made once from its pinned requirements.

The requirements live in benchmarks/peers/requirements/SERVER/NAME.txt, one folder per server
the peers run on. Their client pins conflict, so no two peers share an environment. An
environment is reused while its requirements file is unchanged; conveyor runs in the
repository's own virtualenv.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Callable

from benchmarks.processes import ROOT

VENVS = ROOT / "benchmarks" / ".venvs"
REQUIREMENTS = ROOT / "benchmarks" / "peers" / "requirements"
STAMP = ".requirements"  # a copy of the requirements the environment was built from


class SetupFailed(Exception):
    """The peer's environment could not be made; the message says why, briefly."""


def peers(server: str) -> list[str]:
    """Every peer of `server` ("redis", "postgres") with a requirements file, by name."""
    return sorted(path.stem for path in (REQUIREMENTS / server).glob("*.txt"))


def interpreter(name: str, say: Callable[[str], None] = print) -> str:
    """The Python that runs `name`, making its virtualenv first when needed."""
    if name == "conveyor":
        return sys.executable
    found = sorted(REQUIREMENTS.glob(f"*/{name}.txt"))
    if not found:
        raise SetupFailed(f"no requirements file {name}.txt in {REQUIREMENTS.relative_to(ROOT)}")
    wanted = found[0]
    folder = VENVS / name
    python = folder / "bin" / "python"
    stamp = folder / STAMP
    if python.exists() and stamp.exists() and stamp.read_text() == wanted.read_text():
        return str(python)
    say(f"  making the {name} virtualenv in {folder.relative_to(ROOT)} (once)")
    shutil.rmtree(folder, ignore_errors=True)
    _run([sys.executable, "-m", "venv", str(folder)], "venv")
    _run(
        [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
         "-r", str(wanted)],
        "pip install",
    )  # fmt: skip
    stamp.write_text(wanted.read_text())
    return str(python)


def _run(argv: list[str], what: str) -> None:
    try:
        subprocess.run(argv, capture_output=True, text=True, check=True, timeout=900)
    except subprocess.CalledProcessError as exc:
        tail = (exc.stderr or exc.stdout or "").strip().splitlines()[-3:]
        raise SetupFailed(f"{what} failed: {' / '.join(tail)}") from None
    except subprocess.TimeoutExpired:
        raise SetupFailed(f"{what} took over 15 minutes") from None
