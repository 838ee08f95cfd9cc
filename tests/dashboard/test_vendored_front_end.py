"""The front-end files are in the package, with their licences and where they came from."""

from __future__ import annotations

import re
from pathlib import Path

import conveyor.dashboard

STATIC = Path(conveyor.dashboard.__file__).parent / "static"
VENDOR = STATIC / "vendor"


def test_every_vendored_file_is_listed_with_its_package_version_and_licence() -> None:
    listing = (VENDOR / "VENDORED.md").read_text()
    rows = re.findall(r"^\| `([^`]+)` \| `([^`]+)` \| (\d+\.\d+\.\d+) \|", listing, re.M)
    assert {name for name, _, _ in rows} == {
        path.name for path in VENDOR.iterdir() if path.suffix in (".js", ".css")
    }
    for _, package, _ in rows:
        assert (VENDOR / package / "LICENSE").read_text().strip()


def test_the_pages_need_nothing_from_another_host() -> None:
    templates = Path(conveyor.dashboard.__file__).parent / "templates"
    for page in templates.glob("*.html"):
        text = page.read_text()
        for forbidden in ("http://", "https://", "<script>", "style="):
            assert forbidden not in text, (page.name, forbidden)
