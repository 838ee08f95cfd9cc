from __future__ import annotations

from django.db import connection, transaction
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from .models import Order
from .tasks import send_receipt


class PaymentDeclined(Exception):
    pass


def charge(order: Order, card: str) -> None:
    """The payment provider, simulated: cards ending in 0000 are declined."""
    if card.endswith("0000"):
        raise PaymentDeclined(f"card ending {card[-4:]} declined")


@csrf_exempt  # an API endpoint; a form would carry Django's CSRF token
@require_POST
def place_order(request: HttpRequest) -> JsonResponse:
    order = Order.objects.create(
        email=request.POST["email"], total_cents=int(request.POST["total_cents"])
    )
    # stored in this request's transaction (ATOMIC_REQUESTS), on Django's own connection
    job = send_receipt.options(connection=connection.connection).enqueue_sync(order.pk)
    try:
        charge(order, request.POST["card"])
    except PaymentDeclined as declined:
        transaction.set_rollback(True)  # the order and its receipt job go together
        return JsonResponse({"error": str(declined)}, status=402)
    return JsonResponse({"order": order.pk, "receipt_job": job.id}, status=201)
