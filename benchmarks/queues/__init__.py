"""The queues curve: a drain spread over 1, 100 and 1,000 queues."""
