"""The Django example: a view enqueues on Django's own PostgreSQL connection, inside the
request's transaction. A committed request leaves its order and its job, which a real
worker process then runs; a rolled-back request leaves neither."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from live_services import fresh_postgres

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def shop() -> Iterator[str]:
    """The shop on a fresh schema of the test database, Django set up and migrated; the
    schema's URL. (Django reads its settings once per process.)"""
    with fresh_postgres() as url, pytest.MonkeyPatch.context() as patch:
        patch.syspath_prepend(str(ROOT))  # the examples live outside the package
        patch.setenv("CONVEYOR_URL", url)
        patch.setenv("DJANGO_SETTINGS_MODULE", "examples.django_app.settings")
        import django
        from django.core.management import call_command
        from django.db import connections

        django.setup()
        call_command("migrate", verbosity=0)
        from examples.django_app.tasks import conveyor

        try:
            yield url
        finally:
            conveyor.portal.call(conveyor.backend.close())
            connections.close_all()


def place_order(**form: str) -> Any:
    from django.test import Client

    return Client().post("/orders", form)


def stored_jobs() -> dict[str, str]:
    """Every job in the shop's database, by id, with its state."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT id, state FROM conveyor_jobs")
        return dict(cursor.fetchall())


def run_a_worker(url: str) -> None:
    """`conveyor worker` in a process of its own, until no job is due."""
    command = [sys.executable, "-m", "conveyor", "worker", "examples.django_app.worker:conveyor"]
    env = {**os.environ, "CONVEYOR_URL": url}
    finished = subprocess.run(
        [*command, "--burst"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert finished.returncode == 0, finished.stderr


def test_a_committed_order_keeps_its_receipt_job_and_a_worker_sends_it(shop: str) -> None:
    from examples.django_app.models import Order
    from examples.django_app.tasks import conveyor

    answer = place_order(email="ada@example.com", total_cents="1200", card="4242424242424242")

    assert answer.status_code == 201, answer.content
    order_id, job_id = answer.json()["order"], answer.json()["receipt_job"]
    assert stored_jobs()[job_id] == "queued"
    assert not Order.objects.get(pk=order_id).receipt_sent

    run_a_worker(shop)

    assert stored_jobs()[job_id] == "succeeded"
    assert Order.objects.get(pk=order_id).receipt_sent
    receipt = conveyor.job(job_id).result_sync(timeout=10)
    assert receipt == f"receipt for order {order_id} sent to ada@example.com"


def test_a_declined_payment_rolls_back_the_order_and_its_job(shop: str) -> None:
    from examples.django_app.models import Order

    before = stored_jobs()

    answer = place_order(email="eve@example.com", total_cents="900", card="4000000000000000")

    assert answer.status_code == 402, answer.content
    assert answer.json() == {"error": "card ending 0000 declined"}
    assert not Order.objects.filter(email="eve@example.com").exists()
    assert stored_jobs() == before, "the job went with the rolled-back transaction"
