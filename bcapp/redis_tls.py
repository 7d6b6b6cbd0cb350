"""TLS options for reaching Redis, from environment variables (docs/security.md R6).

`rediss://` (and `rediss+sentinel://`, `rediss+cluster://`) always verifies the server's
certificate. By default against the system's trust store; `BCAPP_REDIS_TLS_CA_FILE` names a
PEM bundle of the CAs to trust instead (a managed Redis with a private CA), and
`BCAPP_REDIS_TLS_CERT_FILE` with `BCAPP_REDIS_TLS_KEY_FILE` present a client certificate
(Redis's `tls-auth-clients yes`). Setting any of them with a URL that is not TLS is refused:
an operator who asks for TLS never gets a plaintext connection.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from bcapp.errors import ConfigurationError

CA_FILE = "BCAPP_REDIS_TLS_CA_FILE"
CERT_FILE = "BCAPP_REDIS_TLS_CERT_FILE"
KEY_FILE = "BCAPP_REDIS_TLS_KEY_FILE"
TLS_SCHEMES = ("rediss://", "rediss+sentinel://", "rediss+cluster://")


@dataclass(frozen=True)
class RedisTls:
    """Files redis-py's TLS connections use; None leaves redis-py's default."""

    ca_file: str | None = None
    cert_file: str | None = None
    key_file: str | None = None

    def connection_options(self) -> dict[str, str]:
        """The redis-py keyword arguments these options stand for."""
        options = {
            "ssl_ca_certs": self.ca_file,
            "ssl_certfile": self.cert_file,
            "ssl_keyfile": self.key_file,
        }
        return {name: value for name, value in options.items() if value is not None}


def redis_tls_from(env: Mapping[str, str], redis_url: str | None) -> RedisTls | None:
    """The TLS options of the environment, checked; None when none is set."""
    values = {name: env.get(name, "").strip() or None for name in (CA_FILE, CERT_FILE, KEY_FILE)}
    if not any(values.values()):
        return None
    named = ", ".join(name for name, value in values.items() if value)
    if redis_url is None or not redis_url.startswith(TLS_SCHEMES):
        raise ConfigurationError(f"{named} need a TLS REDIS_URL (rediss://, rediss+sentinel:// "
                                 "or rediss+cluster://)")
    if values[KEY_FILE] and not values[CERT_FILE]:
        raise ConfigurationError(f"{KEY_FILE} needs {CERT_FILE} (the client certificate)")
    for name, path in values.items():
        if path is not None and not os.access(path, os.R_OK):
            raise ConfigurationError(f"{name}: cannot read {path}")
    return RedisTls(values[CA_FILE], values[CERT_FILE], values[KEY_FILE])
