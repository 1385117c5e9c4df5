"""A provider's own system: the URL its notices are posted to and the secret they are signed with."""

from __future__ import annotations

from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session

from dispatch.audit import trail
from dispatch.models import Provider, ProviderEndpoint
from dispatch.platform import signed_webhooks
from dispatch.platform.actors import Actor
from dispatch.platform.errors import Invalid, NotFound

URL_MAX = 500


def _provider(session: Session, code: str) -> Provider:
    provider = session.scalars(select(Provider).where(Provider.code == code)).first()
    if provider is None:
        raise NotFound(f"provider {code!r} not found")
    return provider


def check_url(url: str) -> str:
    """An absolute http(s) URL with a host, or a 422 naming the field."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise Invalid.field("url", "must be an absolute http:// or https:// URL")
    if parts.username or parts.password:
        raise Invalid.field("url", "may not hold a user name or password (the signature authenticates)")
    if len(url) > URL_MAX:
        raise Invalid.field("url", f"may be at most {URL_MAX} characters")
    return url.strip()


def get_endpoint(session: Session, provider_code: str) -> ProviderEndpoint:
    """A provider's endpoint, or NotFound."""
    provider = _provider(session, provider_code)
    endpoint = session.scalars(
        select(ProviderEndpoint).where(ProviderEndpoint.provider_id == provider.id)
    ).first()
    if endpoint is None:
        raise NotFound(f"provider {provider_code!r} has no endpoint")
    return endpoint


def set_endpoint(
    session: Session, actor: Actor, provider_code: str, url: str
) -> tuple[ProviderEndpoint, str]:
    """Set (or replace) a provider's endpoint with a new signing secret; returns it and the secret,
    which is shown this once. Notices planned from now on are posted there too."""
    url = check_url(url)
    provider = _provider(session, provider_code)
    endpoint = session.scalars(
        select(ProviderEndpoint)
        .where(ProviderEndpoint.provider_id == provider.id)
        .with_for_update(of=ProviderEndpoint)
    ).first()
    secret = signed_webhooks.new_secret()
    action = "endpoint_replaced" if endpoint else "endpoint_set"
    if endpoint is None:
        endpoint = ProviderEndpoint(provider_id=provider.id, url=url, secret=secret)
        session.add(endpoint)
    else:
        endpoint.url, endpoint.secret = url, secret
    session.flush()
    # The URL is no secret; the signing secret never goes into the trail.
    trail.record(session, actor, "provider", provider.id, action, data={"url": url})
    return endpoint, secret


def remove_endpoint(session: Session, actor: Actor, provider_code: str) -> None:
    """Stop posting a provider's notices to its system (deliveries not yet made are skipped)."""
    endpoint = get_endpoint(session, provider_code)
    trail.record(
        session, actor, "provider", endpoint.provider_id, "endpoint_removed", data={"url": endpoint.url}
    )
    session.delete(endpoint)
    session.flush()
