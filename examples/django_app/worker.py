"""What the worker imports: `conveyor worker examples.django_app.worker:conveyor`.

Django is set up first, so the tasks' module can import its models."""

from __future__ import annotations

import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "examples.django_app.settings")
django.setup()

from .tasks import conveyor  # noqa: E402  (after setup: it imports the models)

__all__ = ["conveyor"]
