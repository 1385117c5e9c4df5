"""Every purpose of a message to customers, registered in one place.

Each capability that texts customers through dispatch.outreach registers, at import, the composer
of each of its purposes (`outreach.composers.register`) and, where its texts take replies, the
reply handler (`outreach.replies.register`). A process that sends (the RQ worker:
dispatch/jobs/outreach.py) or reads replies (the SMS webhook: dispatch/telephony/conversation.py)
imports this module, so that every purpose is known there. A new purpose's module is one import
line below.
"""

from __future__ import annotations

from dispatch import reminders
from dispatch.care import campaigns, invitations

# Each module here registers its purposes at import.
PURPOSE_MODULES = (reminders, campaigns, invitations)
