"""The broker's URL and TLS options as Celery spells them (bcapp/broker.py builds the Celery
application from them): the app's Redis in each of its forms, Sentinel as Celery writes it."""

from __future__ import annotations

import ssl
from typing import Any
from urllib.parse import unquote, urlsplit

from bcapp.errors import ConfigurationError
from bcapp.settings import Settings


def broker_url(settings: Settings, redis_url: str) -> tuple[str, dict[str, Any]]:
    """The broker URL and its extra transport options for `settings` (`redis_url`: the app's
    Redis as reached, the embedded one's socket included)."""
    url = settings.broker_url or redis_url
    if url.startswith(("redis+cluster://", "rediss+cluster://")):
        raise ConfigurationError("BCAPP_BROKER_URL must name a broker for a Redis Cluster")
    if url.startswith("unix://"):  # bcapp's spelling of a Redis socket; Celery's is this one
        return "redis+socket://" + url.removeprefix("unix://"), {}
    if url.startswith(("redis+sentinel://", "rediss+sentinel://")):
        return _sentinel_form(url)
    return url, {}


def _sentinel_form(url: str) -> tuple[str, dict[str, Any]]:
    """`redis+sentinel://[user:pw@]h1:p1,h2:p2/service[/db]` as Celery writes it:
    `sentinel://[user:pw@]h1:p1/db;sentinel://…` with the service as `master_name`."""
    parts = urlsplit(url)
    credentials, _, hosts = parts.netloc.rpartition("@")
    path = [segment for segment in parts.path.split("/") if segment]
    service, db = path[0], (path[1] if len(path) > 1 else "0")
    auth = credentials + "@" if credentials else ""
    scheme = "sentinel"
    joined = ";".join(f"{scheme}://{auth}{host}/{db}" for host in hosts.split(","))
    options: dict[str, Any] = {"master_name": service}
    if parts.password:
        options["sentinel_kwargs"] = {"password": unquote(parts.password)}
    if parts.scheme.startswith("rediss"):
        options["ssl"] = {"ssl_cert_reqs": ssl.CERT_REQUIRED}
    return joined, options


def broker_tls(settings: Settings, url: str) -> dict[str, Any] | None:
    """TLS options for a `rediss://` broker: the server's certificate is verified, against
    BCAPP_REDIS_TLS_CA_FILE when given, with the client certificate when given."""
    if not url.startswith("rediss://"):
        return None
    options: dict[str, Any] = {"ssl_cert_reqs": ssl.CERT_REQUIRED}
    tls = settings.redis_tls
    if tls is not None:
        options.update(
            {
                name: value
                for name, value in (
                    ("ssl_ca_certs", tls.ca_file),
                    ("ssl_certfile", tls.cert_file),
                    ("ssl_keyfile", tls.key_file),
                )
                if value
            }
        )
    return options
