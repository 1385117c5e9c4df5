"""Users, bearer tokens and the pages' passwords. Tokens are random; only their SHA-256 is
stored. Passwords are stored only as argon2 hashes."""

from __future__ import annotations

import hashlib
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import bindparam, or_, select
from sqlalchemy.orm import Session

from dispatch.audit import trail
from dispatch.models import ApiToken, Provider, Role, User, utcnow
from dispatch.platform.actors import Actor
from dispatch.platform.errors import Invalid, NotFound

TOKEN_PREFIX = "dsp_"


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_user(
    session: Session, actor: Actor, *, name: str, role: str, provider_code: str | None = None
) -> User:
    """Create a user; a provider user is bound to exactly one provider."""
    if role not in Role.__members__.values():
        raise Invalid.field("role", f"must be one of {', '.join(r.value for r in Role)}")
    provider_id = None
    if role == Role.PROVIDER:
        if not provider_code:
            raise Invalid.field("provider", "a provider user needs a provider")
        provider = session.scalars(select(Provider).where(Provider.code == provider_code)).first()
        if provider is None:
            raise Invalid.field("provider", f"unknown provider {provider_code!r}")
        provider_id = provider.id
    elif provider_code:
        raise Invalid.field("provider", "only provider users are bound to a provider")
    if session.scalars(select(User).where(User.name == name)).first():
        raise Invalid.field("name", f"a user named {name!r} exists")
    user = User(name=name, role=role, provider_id=provider_id)
    session.add(user)
    session.flush()
    trail.record(session, actor, "user", user.id, "created", data={"role": role, "provider_id": provider_id})
    return user


def issue_token(session: Session, actor: Actor, user: User, label: str | None = None) -> str:
    """Create a token for a user and return it; it is shown once and never stored in clear."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(user_id=user.id, token_hash=_digest(token), prefix=token[:12], label=label)
    session.add(row)
    session.flush()
    trail.record(
        session, actor, "api_token", row.id, "issued", data={"user_id": user.id, "prefix": row.prefix}
    )
    return token


def revoke_token(session: Session, actor: Actor, prefix: str) -> ApiToken:
    """Revoke the token starting with `prefix` (as listed); it stops working at once."""
    row = session.scalars(select(ApiToken).where(ApiToken.prefix == prefix[:12])).first()
    if row is None:
        raise NotFound(f"no token starting {prefix!r}")
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        trail.record(session, actor, "api_token", row.id, "revoked", data={"user_id": row.user_id})
    return row


def set_user_active(session: Session, actor: Actor, *, user_id: int, active: bool) -> User:
    """Deactivate a user (every one of its tokens stops at once) or activate it again."""
    user = session.get(User, user_id, with_for_update=True)
    if user is None:
        raise NotFound(f"user {user_id} not found")
    if not active and user.id == actor.user_id:
        # Nobody locks themselves out by mistake; another admin or the operator's command can.
        raise Invalid.field("active", "you cannot deactivate yourself")
    if user.active != active:
        user.active = active
        session.flush()
        trail.record(session, actor, "user", user.id, "activated" if active else "deactivated")
    return user


def find_user(session: Session, name: str) -> User:
    """The user with this name, or NotFound."""
    user = session.scalars(select(User).where(User.name == name)).first()
    if user is None:
        raise NotFound(f"no user {name!r}")
    return user


def list_users(session: Session) -> list[User]:
    """Every user, in the order they were created."""
    return list(session.scalars(select(User).order_by(User.id)))


# Built once; run on the session's connection: this is on every request, and the ORM's
# statement handling (or loading User and ApiToken objects) costs more than the query itself.
# A provider user's provider is checked in the same query (no extra round trip): deactivating a
# provider stops its users' tokens at once, and activating it again restores them.
_AUTHENTICATE = (
    select(User.id, User.role, User.provider_id, User.name)
    .join(ApiToken, ApiToken.user_id == User.id)
    .outerjoin(Provider, Provider.id == User.provider_id)
    .where(
        ApiToken.token_hash == bindparam("digest"),
        ApiToken.revoked_at.is_(None),
        User.active.is_(True),
        or_(User.provider_id.is_(None), Provider.active.is_(True)),
    )
)


def authenticate(session: Session, token: str) -> Actor | None:
    """The actor a bearer token stands for; None if unknown, revoked, or its user or provider inactive."""
    if not token.startswith(TOKEN_PREFIX):
        return None
    row = session.connection().execute(_AUTHENTICATE, {"digest": _digest(token)}).first()
    if row is None:
        return None
    return Actor(user_id=row.id, role=row.role, provider_id=row.provider_id, name=row.name)


# --- the pages' passwords ------------------------------------------------------------------------

# argon2id with argon2-cffi's defaults (RFC 9106's low-memory profile: 64 MiB, 3 passes).
_HASHER = PasswordHasher()
MIN_PASSWORD_LENGTH = 12
_missing_user_hash: list[str] = []  # computed once: a user without a password costs the same time


def generate_password() -> str:
    """A new random password (20 characters, 120 bits), for the operator to hand over once."""
    return secrets.token_urlsafe(15)


def set_password(session: Session, actor: Actor, user: User, password: str) -> None:
    """Store the argon2 hash of a new password (never the password); every page session of the
    user ends, since each one is bound to the hash it logged in with."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise Invalid.field("password", f"must be at least {MIN_PASSWORD_LENGTH} characters")
    user.password_hash = _HASHER.hash(password)
    session.flush()
    trail.record(session, actor, "user", user.id, "password_set")


def _usable(session: Session, user: User) -> bool:
    if not user.active:
        return False
    if user.provider_id is None:
        return True
    provider = session.get(Provider, user.provider_id)
    return provider is not None and provider.active


def check_password(session: Session, name: str, password: str) -> Actor | None:
    """The actor who logs in with this name and password; None if either is wrong, or the user
    (or its provider) is deactivated. The same work is done for a name that does not exist."""
    user = session.scalars(select(User).where(User.name == name)).first()
    if user is None or not user.password_hash:
        if not _missing_user_hash:
            _missing_user_hash.append(_HASHER.hash(secrets.token_urlsafe(16)))
        _verify(_missing_user_hash[0], password)
        return None
    if not _verify(user.password_hash, password) or not _usable(session, user):
        return None
    if _HASHER.check_needs_rehash(user.password_hash):  # stronger parameters since it was set
        user.password_hash = _HASHER.hash(password)
    return Actor(user_id=user.id, role=user.role, provider_id=user.provider_id, name=user.name)


def _verify(password_hash: str, password: str) -> bool:
    try:
        return _HASHER.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def password_stamp(password_hash: str | None) -> str:
    """A short digest of the stored hash, kept in a page session: a new password ends old sessions."""
    return hashlib.sha256((password_hash or "").encode()).hexdigest()[:16]


_SESSION_USER = (
    select(User.id, User.role, User.provider_id, User.name, User.password_hash)
    .outerjoin(Provider, Provider.id == User.provider_id)
    .where(
        User.id == bindparam("user_id"),
        User.active.is_(True),
        or_(User.provider_id.is_(None), Provider.active.is_(True)),
    )
)


def session_actor(session: Session, user_id: int, stamp: str) -> Actor | None:
    """The actor of a page session, checked on every request: None once the user or its provider
    is deactivated, or the password was changed since the session began."""
    row = session.connection().execute(_SESSION_USER, {"user_id": user_id}).first()
    if (
        row is None
        or not row.password_hash
        or not secrets.compare_digest(password_stamp(row.password_hash), stamp)
    ):
        return None
    return Actor(user_id=row.id, role=row.role, provider_id=row.provider_id, name=row.name)
