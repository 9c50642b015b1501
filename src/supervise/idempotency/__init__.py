"""``Idempotency-Key`` on POST: the same key and body replays the first response."""
