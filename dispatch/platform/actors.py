"""Who is acting: a user with a role, or the system itself (a job, the relay, a webhook)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Actor:
    """The caller of a domain function; passed explicitly, never read from a request."""

    user_id: int | None
    role: str
    provider_id: int | None = None
    name: str = ""

    @property
    def label(self) -> str:
        """How the actor is named in the audit trail."""
        if self.user_id is None:
            return f"system:{self.name or self.role}"
        return f"user:{self.user_id} {self.name} ({self.role})".replace("  ", " ")

    @classmethod
    def system(cls, name: str) -> Actor:
        """A process acting on its own (a job, the outbox relay, a verified webhook)."""
        return cls(user_id=None, role="system", name=name)
