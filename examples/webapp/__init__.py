"""The example FastAPI app: signups, reports and webhooks as durable jobs.

`tasks.py` holds the Conveyor app and its tasks (what a worker imports), `api.py` the
FastAPI app (what uvicorn serves). `make demo` starts both and sends them traffic.
"""
