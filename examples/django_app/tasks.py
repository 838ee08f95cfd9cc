"""The shop's jobs. Sync tasks run in the worker's threads, where the ORM works as usual."""

from __future__ import annotations

from django.conf import settings

from conveyor import Conveyor

from .models import Order

conveyor = Conveyor(settings.CONVEYOR_URL)


@conveyor.task(retries=5)
def send_receipt(order_id: int) -> str:
    order = Order.objects.get(pk=order_id)  # committed with the job: it is there
    # a real shop sends the email here
    Order.objects.filter(pk=order_id).update(receipt_sent=True)
    return f"receipt for order {order.pk} sent to {order.email}"
