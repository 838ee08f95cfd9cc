"""A Django shop that enqueues from a view, inside the request's transaction (PostgreSQL).

An order and its receipt job are written in one transaction: a declined payment rolls
back both, so no receipt goes out for an order that does not exist. Run it with the
shop's database URL in `$CONVEYOR_URL` (conveyor's tables in its `schema`, the shop's
beside them):

    $ conveyor db migrate --url "$CONVEYOR_URL"    # creates the schema and conveyor's tables
    $ django-admin migrate --settings examples.django_app.settings
    $ django-admin runserver --settings examples.django_app.settings
    $ conveyor worker examples.django_app.worker:conveyor
"""
