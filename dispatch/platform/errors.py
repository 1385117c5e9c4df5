"""Domain errors. The API turns each into a JSON 4xx; jobs log them."""

from __future__ import annotations


class DomainError(Exception):
    """Base of the errors a caller can act on."""

    status = 400

    def __init__(self, message: str, fields: dict[str, list[str]] | None = None):
        super().__init__(message)
        self.message = message
        self.fields = fields or {}


class Invalid(DomainError):
    """The request is well-formed but names things that do not fit (unknown city, ...)."""

    status = 422

    @classmethod
    def field(cls, path: str, message: str) -> Invalid:
        """One bad field, named by its dotted path in the request body."""
        return cls(f"{path}: {message}", {path: [message]})


class NotFound(DomainError):
    """No such thing, or not one the caller may see (a provider asking for another's order)."""

    status = 404


class Forbidden(DomainError):
    """The caller's role may not do this."""

    status = 403


class Conflict(DomainError):
    """The thing is not in a state that allows this (closing a closed order, ...)."""

    status = 409
