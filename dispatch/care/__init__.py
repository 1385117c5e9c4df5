"""Units cared for: maintenance plans and their invitations, seasonal campaigns.

A use case above the orders, the customers, the reference data and the contact core (`outreach`):
it finds the units coming due and the customers a campaign is for with set-based SQL, asks the
contact core to send (proactive: the one contact policy decides when, and whether, at send time),
and opens a routed maintenance order through `orders/booking.py` when a customer answers yes.

WHERE EACH PART LIVES:
  plans.py        maintenance plans per product line (supervisors)
  maintenance.py  the due query (set-based), the daily pass recording invitations, units past due
  invitations.py  invitations sent through the contact core; the yes that books a maintenance order
  campaigns.py    seasonal campaigns: targeting, preview by reason, runs in batches, pause/resume
  texts.py        what the customer reads, per language
"""
