"""The example API's `/docs` loads everything from the API itself: it works offline.

FastAPI's default page loads Swagger UI from a CDN and is blank without one. The example
serves files vendored from `swagger-ui-dist`, with their licence and where they came from.
"""

from __future__ import annotations

import hashlib
import importlib
import re
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from dashboard.browser_support import CHROMIUM, playwright_or_skip

from .support import served

ROOT = Path(__file__).resolve().parents[2]
SWAGGER_UI = ROOT / "examples" / "webapp" / "static" / "swagger-ui"


@pytest.fixture
def api(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> FastAPI:
    """The example API (the examples live outside the package, at the root)."""
    monkeypatch.syspath_prepend(str(ROOT))
    monkeypatch.setenv("CONVEYOR_URL", f"sqlite:///{tmp_path}/jobs.db")
    example: FastAPI = importlib.import_module("examples.webapp.api").api
    return example


async def test_the_docs_page_and_every_file_it_loads_come_from_the_api(api: FastAPI) -> None:
    transport = httpx.ASGITransport(app=api)
    async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
        page = await client.get("/docs")
        loaded = re.findall(r'(?:src|href)="([^"]+)"', page.text)
        files = {url: await client.get(url) for url in loaded}
        schema = await client.get("/openapi.json")
        redoc = await client.get("/redoc")

    assert page.status_code == 200
    assert len(loaded) == 3, loaded  # the script, the stylesheet and the icon
    assert [url for url in loaded if not url.startswith("/")] == [], "another host"
    for url, response in files.items():
        assert response.status_code == 200, url
        assert response.content == (SWAGGER_UI / Path(url).name).read_bytes()
    assert "SwaggerUIBundle" in files[next(u for u in loaded if u.endswith(".js"))].text
    assert "'/openapi.json'" in page.text or '"/openapi.json"' in page.text
    assert schema.json()["paths"], "the page has a schema to show"
    assert redoc.status_code == 404, "/redoc would load ReDoc from a CDN: it is off"


def test_the_vendored_files_are_the_ones_listed_with_their_version_and_licence() -> None:
    listing = (SWAGGER_UI / "VENDORED.md").read_text()
    rows = re.findall(r"^\| `([^`]+)` \| `swagger-ui-dist` \| (\d+\.\d+\.\d+) \|", listing, re.M)
    hashes = dict(
        (name, digest) for digest, name in re.findall(r"^([0-9a-f]{64})  (\S+)$", listing, re.M)
    )

    served = {path.name for path in SWAGGER_UI.iterdir() if path.is_file()} - {"VENDORED.md"}
    assert {name for name, _ in rows} == served
    for name in served:
        assert hashlib.sha256((SWAGGER_UI / name).read_bytes()).hexdigest() == hashes[name]
    assert "Apache License" in (SWAGGER_UI / "swagger-ui-dist" / "LICENSE").read_text()


async def test_swagger_ui_renders_in_a_browser_that_may_not_leave_the_machine(
    api: FastAPI,
) -> None:
    async_playwright = playwright_or_skip()
    elsewhere: list[str] = []
    async with served(api) as client, async_playwright() as playwright:
        here = str(client.base_url).rstrip("/")

        async def only_here(route: Any) -> None:
            if route.request.url.startswith(here):
                await route.continue_()
            else:  # as offline: nothing from another host
                elsewhere.append(route.request.url)
                await route.abort()

        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            page = await browser.new_page()
            await page.route("**/*", only_here)
            await page.goto(f"{here}/docs")
            await page.wait_for_selector(".opblock", timeout=30_000)  # the operations listed
            title = await page.text_content(".info .title")
            operations = await page.locator(".opblock").count()
        finally:
            await browser.close()

    assert title is not None
    assert "conveyor example" in title
    assert operations >= 5
    assert elsewhere == []
