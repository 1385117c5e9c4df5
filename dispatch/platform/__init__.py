"""The plumbing under the domain: settings, database, Redis, logs, rate limits, outbox, idempotency."""
