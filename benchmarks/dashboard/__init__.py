"""The dashboard benchmark: every page and API call of the dashboard, timed against a store
holding a million finished jobs and ten thousand failed ones (`python -m benchmarks
dashboard`)."""
