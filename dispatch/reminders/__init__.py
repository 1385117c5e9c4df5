"""The customers' confirmations and day-before reminders of booked visits, through dispatch.outreach.

Importing it registers the composers and reply handlers of its purposes (dispatch/contacts.py
imports it); dispatch/bookings.py runs `booking_changed` for every version of a booking.
"""

from dispatch.reminders.booking import CONFIRMATION, PURPOSES, REMINDER, booking_changed, reminder_time

__all__ = ["CONFIRMATION", "PURPOSES", "REMINDER", "booking_changed", "reminder_time"]
