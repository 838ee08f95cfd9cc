"""The API's `/docs` (Swagger UI) served from files vendored beside it, so it works offline.

FastAPI's own `/docs` page loads Swagger UI from a CDN and stays blank without one; its
`/redoc` does the same, so the app turns both off and serves this page instead. The files
and their licences are in `static/swagger-ui/` (see its VENDORED.md).
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

SWAGGER_UI = Path(__file__).parent / "static" / "swagger-ui"
ASSETS = "/docs-assets"


def serve_docs(api: FastAPI) -> None:
    """Add `/docs` to an app made with `docs_url=None, redoc_url=None`."""
    api.mount(ASSETS, StaticFiles(directory=SWAGGER_UI), name="docs-assets")

    @api.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=api.openapi_url or "/openapi.json",
            title=f"{api.title} - Swagger UI",
            swagger_js_url=f"{ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{ASSETS}/favicon-32x32.png",
        )
