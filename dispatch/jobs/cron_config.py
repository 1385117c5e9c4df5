"""Periodic work for `rq cron` (RQ's built-in cron): load with `rq cron dispatch.jobs.cron_config`."""

from rq import cron

from dispatch.jobs.runtime import queue_name
from dispatch.jobs.tasks import plan_status_checks, relay_outbox, sweep_callbacks

# The outbox relay: every second, so that a job requested by a commit starts within a second or so.
cron.register(relay_outbox, queue_name=queue_name("default"), interval=1)
# Verification callbacks: the sweep finds due work a lost job left behind (an advisory lock lets
# only one cron process run it at a time); status checks for booked orders left open at day's end.
cron.register(sweep_callbacks, queue_name=queue_name("default"), interval=60)
cron.register(plan_status_checks, queue_name=queue_name("default"), interval=300)
