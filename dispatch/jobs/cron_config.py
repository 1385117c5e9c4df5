"""Periodic work for `rq cron` (RQ's built-in cron): load with `rq cron dispatch.jobs.cron_config`."""

from rq import cron

from dispatch.jobs.outreach import sweep_customer_messages
from dispatch.jobs.runtime import queue_name, settings
from dispatch.jobs.tasks import (
    care_daily,
    log_audit_anchor,
    plan_status_checks,
    register_sales,
    relay_outbox,
    sweep_callbacks,
)

# The outbox relay: every second, so that a job requested by a commit starts within a second or so.
# A relay copy not started within 5 s is dropped (ttl) and none keeps a result: when the worker is
# busy, relays must not pile up in the queue ahead of real work (the next copy does the same job).
cron.register(relay_outbox, queue_name=queue_name("default"), interval=1, ttl=5, result_ttl=0)
# Sales accepted asynchronously (202 receipts): registered within a second or two, in batches. Like
# the relay, a copy not started within 5 s is dropped; receipts wait in the database, never in Redis.
cron.register(register_sales, queue_name=queue_name("default"), interval=1, ttl=5, result_ttl=0)
# Verification callbacks: the sweep finds due work a lost job left behind (an advisory lock lets
# only one cron process run it at a time); status checks for booked orders left open at day's end.
cron.register(sweep_callbacks, queue_name=queue_name("default"), interval=60, ttl=60, result_ttl=600)
cron.register(plan_status_checks, queue_name=queue_name("default"), interval=300, ttl=300, result_ttl=600)
# Messages to customers: a send job Redis lost is requested again; a text left "sending" by a
# killed worker goes to a person (never resent). SKIP LOCKED lets two cron processes run it at once.
cron.register(sweep_customer_messages, queue_name=queue_name("default"), interval=60, ttl=60, result_ttl=600)
# The audit trail's head, written to the log every hour: anchors kept outside the database.
cron.register(log_audit_anchor, queue_name=queue_name("default"), interval=3600, ttl=600, result_ttl=86400)
# Maintenance coming due: once a day (CARE_SCAN_CRON, UTC). Two schedulers may both enqueue it: an
# advisory lock and one invitation per unit per plan per cycle keep it done once.
cron.register(
    care_daily,
    queue_name=queue_name("default"),
    cron=settings()["CARE_SCAN_CRON"],
    ttl=3600,
    result_ttl=86400,
)
