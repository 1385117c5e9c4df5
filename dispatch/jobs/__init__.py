"""RQ only: thin jobs (ids in, reload, one domain call), queues, the outbox relay and cron."""
