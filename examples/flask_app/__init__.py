"""A Flask app that enqueues from a route, with an app factory. Jobs live where
`$CONVEYOR_URL` says (default: a SQLite file, ./conveyor.db):

    $ flask --app examples.flask_app run
    $ conveyor worker examples.flask_app.tasks:conveyor
"""

from __future__ import annotations

from flask import Flask, abort, request

from .tasks import send_welcome


def create_app() -> Flask:
    app = Flask(__name__)

    @app.post("/signup")
    def signup() -> tuple[dict[str, str], int]:
        email = (request.get_json(silent=True) or {}).get("email")
        if not isinstance(email, str) or "@" not in email:
            abort(400, "give an email address")
        job = send_welcome.enqueue_sync(email)  # stored before the response; a worker sends it
        return {"job_id": job.id}, 202

    return app
