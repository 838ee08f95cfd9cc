"""Prometheus metrics, scraped over HTTP from real `conveyor worker --metrics-port` processes.

- `tasks`: the tasks the workers run; each attempt appends a line to an oracle file.
- `workerapp`: the app the workers import (`metrics.workerapp:app`).
- `support`: starting workers, scraping and parsing `/metrics`, bounded waits.
"""
