"""Periodic work for `rq cron` (RQ's built-in cron): load with `rq cron dispatch.jobs.cron_config`."""

from rq import cron

from dispatch.jobs.runtime import queue_name
from dispatch.jobs.tasks import relay_outbox

# The outbox relay: every second, so that a job requested by a commit starts within a second or so.
cron.register(relay_outbox, queue_name=queue_name("default"), interval=1)
