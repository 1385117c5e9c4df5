"""Customers: finding one by phone, name or address, the customer card, erasure on request."""
