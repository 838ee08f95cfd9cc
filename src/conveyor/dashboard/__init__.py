"""The web dashboard: see and steer every queue, job, worker and schedule from a browser.

    conveyor dashboard --app myproject.jobs:app              # http://127.0.0.1:8181
    api.mount("/conveyor", dashboard_app(app, authorize=your_check))   # inside your app

Needs `pip install 'conveyor[dashboard]'` (Starlette, Jinja2, and uvicorn for the command).
"""

from __future__ import annotations

try:
    import jinja2  # noqa: F401
    import starlette  # noqa: F401
except ImportError:
    from conveyor.errors import ConfigurationError

    raise ConfigurationError(
        "the conveyor dashboard needs Starlette and Jinja2: pip install 'conveyor[dashboard]'"
    ) from None

from conveyor.dashboard.access import Authorize, Credentials, Role, User
from conveyor.dashboard.app import dashboard_app

__all__ = ["Authorize", "Credentials", "Role", "User", "dashboard_app"]
