"""The history curve: what enqueue, drain, `stats` and listing cost as finished jobs pile up."""
