"""The rules a configuration must meet, checked once it is read (bcapp/settings.py).

Each refusal names the variable and, where it helps, how to make a good value. Production is
stricter (https URLs, an issued client secret); former secrets are held to the rules of current
ones, since they open the app just as well (docs/security.md R10).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from bcapp.envvars import PLACEHOLDERS
from bcapp.errors import ConfigurationError
from bcapp.validation import LOOPBACK_HOSTS

if TYPE_CHECKING:
    from bcapp.settings import Settings

# Celery's transports bcapp documents (bcapp/broker.py), and Redis URLs as REDIS_URL writes them.
BROKER_SCHEMES = (
    "redis", "rediss", "unix", "redis+socket", "redis+sentinel", "rediss+sentinel", "sentinel",
    "amqp", "amqps", "pyamqp", "sqs",
)
MIN_CLIENT_SECRET_CHARS = 16
MIN_DISTINCT_CHARS = 8
_ORIGIN = re.compile(r"https?://(\*\.)?[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*(:[0-9]{1,5})?")


def validate(settings: Settings) -> None:
    """Check cross-field rules; raise ConfigurationError naming the variable."""
    for name, url in (
        ("APP_URL", settings.app_url),
        ("BC_AUTH_CALLBACK_URL", settings.auth_callback_url),
        ("BC_LOGIN_URL", settings.login_url),
        ("BC_API_URL", settings.api_url),
        *(("APP_URL_PREVIOUS", url) for url in settings.previous_app_urls),
    ):
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigurationError(f"{name} must be an absolute http(s) URL")
        if (
            settings.is_production
            and parts.scheme != "https"
            and parts.hostname not in LOOPBACK_HOSTS
        ):
            raise ConfigurationError(f"{name} must use https:// in production")
    if urlsplit(settings.auth_callback_url).query:
        raise ConfigurationError("BC_AUTH_CALLBACK_URL must not carry a query string")
    if not settings.client_id or not settings.client_secret:
        raise ConfigurationError("BC_CLIENT_ID and BC_CLIENT_SECRET must not be empty")
    if len(settings.secret_key) < 32:
        raise ConfigurationError(
            "SECRET_KEY must be at least 32 characters "
            "(python -c 'import secrets; print(secrets.token_urlsafe(48))')"
        )
    _validate_secret_lists(settings)
    token = settings.metrics_token
    if token is not None and (len(token) < 16 or guessable(token)):
        raise ConfigurationError(
            "BCAPP_METRICS_TOKEN must be a random token of at least 16 characters "
            "(python -c 'import secrets; print(secrets.token_urlsafe(32))')"
        )
    if settings.broker_url is None and (settings.redis_url or "").startswith(
        ("redis+cluster://", "rediss+cluster://")
    ):
        raise ConfigurationError(
            "BCAPP_BROKER_URL must name Celery's broker when REDIS_URL is a Redis Cluster "
            "(Celery's Redis transport needs one server or Sentinel): e.g. redis://host:6379/1 "
            "or amqp://user:password@host:5672//"
        )
    broker_scheme = urlsplit(settings.broker_url or "").scheme
    if settings.broker_url is not None and broker_scheme not in BROKER_SCHEMES:
        raise ConfigurationError(
            "BCAPP_BROKER_URL must be a broker URL Celery reaches: "
            + ", ".join(f"{scheme}://" for scheme in BROKER_SCHEMES)
        )
    for name, page in (("BCAPP_SUPPORT_URL", settings.support_url),
                       ("BCAPP_PRIVACY_URL", settings.privacy_url)):
        if page is not None and (
            urlsplit(page).scheme not in ("http", "https") or not urlsplit(page).hostname
        ):
            raise ConfigurationError(f"{name} must be an absolute http(s) URL")
    if settings.log_format not in ("text", "json"):
        raise ConfigurationError("LOG_FORMAT must be 'text' or 'json'")
    for origin in settings.frame_ancestors:
        if not _ORIGIN.fullmatch(origin) or not _framing_origin_allowed(origin, settings):
            raise ConfigurationError(
                "BCAPP_FRAME_ANCESTORS takes only origins such as "
                "https://store-abc.mybigcommerce.com (https, a host or *.domain.tld, optional "
                "port; space-separated; http only for loopback hosts in production)"
            )
    if not settings.redis_prefix.replace("-", "").replace("_", "").isalnum():
        raise ConfigurationError("BCAPP_REDIS_PREFIX may hold only letters, digits, '-' and '_'")


def _framing_origin_allowed(origin: str, settings: Settings) -> bool:
    """A wildcard covers subdomains of a registrable-looking domain (`*.example.com`, never
    `*.com`); production takes http only for loopback hosts."""
    scheme, _, rest = origin.partition("://")
    host = rest.rsplit(":", 1)[0] if rest.count(":") == 1 else rest
    if host.startswith("*.") and host.count(".") < 2:
        return False
    return not (settings.is_production and scheme == "http" and host not in LOOPBACK_HOSTS)


def guessable(secret: str) -> bool:
    """A placeholder, or text with too few distinct characters to be a random secret
    (`changemechangeme` has seven); issued secrets and generated keys have dozens."""
    return secret.lower() in PLACEHOLDERS or len(set(secret)) < MIN_DISTINCT_CHARS


def _validate_secret_lists(settings: Settings) -> None:
    """Former secrets are keys too: a weak one opens the app like a weak current one."""
    for fallback in settings.secret_key_fallbacks:
        if len(fallback) < 32 or guessable(fallback):
            raise ConfigurationError(
                "SECRET_KEY_FALLBACKS entries must be former SECRET_KEYs of at least 32 characters"
            )
    for previous in settings.previous_client_secrets:
        if len(previous) < MIN_CLIENT_SECRET_CHARS or guessable(previous):
            raise ConfigurationError(
                "BC_CLIENT_SECRET_PREVIOUS entries must be former client secrets as the Developer "
                f"Portal issued them (at least {MIN_CLIENT_SECRET_CHARS} characters)"
            )
    if settings.is_production and len(settings.client_secret) < MIN_CLIENT_SECRET_CHARS:
        raise ConfigurationError(
            "BC_CLIENT_SECRET is too short to be one the Developer Portal issued; copy it from "
            "My Apps > View Client ID"
        )

