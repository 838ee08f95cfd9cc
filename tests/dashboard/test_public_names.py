"""The dashboard's public names are `conveyor.dashboard.__all__`, pinned here."""

from __future__ import annotations

import conveyor.dashboard


def test_the_dashboards_public_names_are_pinned() -> None:
    assert sorted(conveyor.dashboard.__all__) == [
        "Authorize", "Credentials", "Role", "User", "dashboard_app",
    ]  # fmt: skip
    for name in conveyor.dashboard.__all__:
        assert getattr(conveyor.dashboard, name) is not None


def test_credentials_never_show_their_password() -> None:
    credentials = conveyor.dashboard.Credentials.parse("ops:pa:ss")
    assert credentials.password == "pa:ss"
    assert "pa:ss" not in repr(credentials)
