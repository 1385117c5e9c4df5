"""Dispatch: a manufacturer's call centre between customers and local service providers."""
