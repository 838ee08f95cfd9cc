"""The app's jobs: what `conveyor worker examples.flask_app.tasks:conveyor` runs."""

from __future__ import annotations

from conveyor import Conveyor

conveyor = Conveyor()  # $CONVEYOR_URL, else sqlite:///./conveyor.db


@conveyor.task(retries=3)
def send_welcome(email: str) -> dict[str, str]:
    # a real app sends the email here
    return {"to": email, "status": "sent"}
