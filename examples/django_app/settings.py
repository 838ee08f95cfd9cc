"""The shop's settings, in one file. Django and conveyor share one PostgreSQL database, so a
job enqueued in a view is committed, or rolled back, with the request's transaction."""

from __future__ import annotations

import os
from urllib.parse import parse_qs, urlsplit

CONVEYOR_URL = os.environ.get(
    "CONVEYOR_URL", "postgresql://postgres@127.0.0.1:5432/shop?schema=shop"
)
_url = urlsplit(CONVEYOR_URL)
_schema = parse_qs(_url.query).get("schema", ["public"])[0]

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.postgresql",  # on psycopg 3, as conveyor is
        "NAME": _url.path.lstrip("/"),
        "USER": _url.username or "",
        "PASSWORD": _url.password or "",
        "HOST": _url.hostname or "",
        "PORT": str(_url.port or ""),
        "OPTIONS": {"options": f"-c search_path={_schema}"},  # the shop's tables beside conveyor's
        "ATOMIC_REQUESTS": True,  # each request is one transaction: its jobs join it
    }
}
INSTALLED_APPS = ["examples.django_app"]
ROOT_URLCONF = "examples.django_app.urls"
SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "only-for-the-example")
DEBUG = False
ALLOWED_HOSTS = ["localhost", "127.0.0.1", "testserver"]
USE_TZ = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
