"""One frozen, typed Settings object built once from the environment (and `.env`).

Development generates and keeps `SECRET_KEY` and a token key under `instance/`; production
refuses to start on anything missing, naming the variable and how to make a value.
Reading settings imports nothing of the app: its declarations are loaded at wiring time
(bcapp/app_spec.py, `load_declarations`).
"""

from __future__ import annotations

import functools
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from bcapp import endpoints
from bcapp.app_spec import app_spec, declaration_modules, example_pages
from bcapp.billing.config import BillingSettings, billing_from
from bcapp.crypto import TokenKey, new_key_entry, parse_keys
from bcapp.envvars import (
    SESSION_MODES,
    as_choice,
    as_flag,
    as_float,
    as_int,
    as_list,
    installed_version,
    kept_secret,
    require_client_secret,
    require_production,
)
from bcapp.errors import ConfigurationError
from bcapp.redis_tls import RedisTls, redis_tls_from
from bcapp.scopes import BCAPP_SCOPES, ScopeSet
from bcapp.settings_rules import validate
from bcapp.validation import LOOPBACK_HOSTS

PRODUCTION = "production"
DEVELOPMENT = "development"
_DEV_CLIENT_ID = "bcapp-local-client"
# Who may frame a page that belongs to no known store (an error page before verification):
# any BigCommerce control panel. Pages of a known store allow only that store's control panel
# (docs/security.md R11).
UNKNOWN_STORE_FRAME_ANCESTORS = ("https://*.bigcommerce.com", "https://*.mybigcommerce.com")


@dataclass(frozen=True)
class Settings:
    """Validated configuration; tests construct it directly."""

    client_id: str
    client_secret: str = field(repr=False)
    secret_key: str = field(repr=False)
    token_keys: tuple[TokenKey, ...] = field(repr=False)
    env: str = DEVELOPMENT
    app_url: str = "http://127.0.0.1:8000"
    auth_callback_url: str = ""
    redis_url: str | None = field(default=None, repr=False)
    login_url: str = "https://login.bigcommerce.com"
    api_url: str = "https://api.bigcommerce.com"
    instance_dir: Path = Path("instance")
    previous_client_secrets: tuple[str, ...] = field(default=(), repr=False)
    # Former APP_URLs: sync moves bcapp's webhook subscriptions from these, and only these.
    previous_app_urls: tuple[str, ...] = ()
    # Former SECRET_KEYs whose session cookies are still accepted while rotating (Flask 3.1).
    secret_key_fallbacks: tuple[str, ...] = field(default=(), repr=False)
    # What every install must grant. Before the app's declarations are loaded: bcapp's own needs
    # (and any scope given here); `load_declarations` (bcapp/app_spec.py) adds every scope the
    # app declares or implies, and `build()` always loads them, so no service sees less.
    required_scopes: ScopeSet = BCAPP_SCOPES
    redis_prefix: str = "bcapp"
    jwt_leeway_seconds: int = 30
    # Longest accepted exp - nbf of a signed_payload_jwt; None accepts any (A1.8).
    jwt_max_lifetime_seconds: int | None = 86400 + 60
    legacy_payload_max_age_seconds: int = 600
    # Accept the pre-2021 `signed_payload` when no `signed_payload_jwt` is sent.
    legacy_payloads: bool = True
    multi_user: bool = True
    session_lifetime_seconds: int = 12 * 3600
    # A session unused for this long ends (checked in Redis on every request).
    session_idle_seconds: int = 3600
    http_connect_timeout: float = 3.05
    http_read_timeout: float = 10.0
    token_exchange_deadline: float = 20.0
    # BCAPP_FRAME_ANCESTORS: origins that replace the per-store default on every page.
    frame_ancestors: tuple[str, ...] = ()
    # Abuse limits per callback route and window (0 turns one off); see bcapp/service/limits.py.
    rate_limit_per_address: int = 120
    rate_limit_per_store: int = 60
    rate_limit_window_seconds: int = 60
    rate_limit_auth_per_address: int = 10
    # How long an install waits for another install of the same store before a 503.
    install_lock_wait_seconds: float = 3.0
    # Reverse proxies in front of bcapp whose X-Forwarded-For names the client (0: none).
    trusted_proxies: int = 0
    # Host names requests may be addressed to besides APP_URL's (BCAPP_TRUSTED_HOSTS).
    extra_trusted_hosts: tuple[str, ...] = ()
    # How long an uninstalled store's records are kept (so a forged uninstall can be undone).
    uninstall_grace_seconds: int = 7 * 86400
    # The modules declaring the app: BCAPP_APP's module, then BCAPP_RECEIVERS. Importing them
    # (at wiring time, `load_declarations`) runs its declarations (scopes, webhooks, extensions,
    # signals); reading settings does not.
    receiver_modules: tuple[str, ...] = ()
    # BCAPP_APP: the developer's Flask app, `module:app` or `module:create_app` (a factory).
    app_spec: str | None = None
    # BCAPP_METRICS_TOKEN: enables GET /metrics for `Authorization: Bearer <token>`.
    metrics_token: str | None = field(default=None, repr=False)
    # Replicas an install waits for (WAIT) before it is acknowledged; 0: none.
    redis_min_replicas: int = 0
    # BCAPP_REDIS_TLS_*: a CA bundle and a client certificate for rediss:// (bcapp/redis_tls.py).
    redis_tls: RedisTls | None = None
    # LOG_FORMAT: "text" or "json" (read by the entry points before settings exist).
    log_format: str = "text"
    # `module:attribute` Flask blueprints of the app built on bcapp, registered by create_app.
    blueprints: tuple[str, ...] = ()
    # The bundled example pages (/settings, /products) in `create_app`: on in development
    # (`make run` shows them), off in production unless BCAPP_EXAMPLE_PAGES=true.
    example_pages: bool = False
    # Sent as User-Agent on every call to BigCommerce, as it asks apps to name themselves.
    user_agent: str = ""
    # Set in development without credentials: the local BigCommerce simulator's base URL.
    simulator_url: str | None = None
    # BCAPP_BROKER_URL: Celery's broker for webhook events and background work; None: the
    # app's own Redis (bcapp/broker.py). A task unacknowledged this long runs again.
    broker_url: str | None = field(default=None, repr=False)
    # BCAPP_SUPPORT_URL, BCAPP_PRIVACY_URL: shown on every app page (a marketplace requirement).
    support_url: str | None = None
    privacy_url: str | None = None
    task_visibility_timeout: int = 3600
    # Retries of a failed task: full-jitter backoff from this base (seconds), at most this many
    # attempts in all before the event is kept as a dead letter.
    task_retry_base: float = 10.0
    task_max_attempts: int = 10
    # Unified Billing's Account API credentials; None: billing off (bcapp/billing/config.py).
    billing: BillingSettings | None = None
    # BCAPP_SESSIONS: how app pages' own calls authenticate: "both", "bearer" or "cookie".
    sessions_mode: str = "both"

    def __post_init__(self) -> None:
        if not self.user_agent:
            object.__setattr__(self, "user_agent", f"bcapp/{installed_version()} (+{self.app_url})")
        if not self.auth_callback_url:
            object.__setattr__(
                self, "auth_callback_url", self.app_url.rstrip("/") + endpoints.AUTH.path
            )

    @property
    def is_production(self) -> bool:
        """True when BCAPP_ENV=production."""
        return self.env == PRODUCTION

    @property
    def unknown_store_frame_ancestors(self) -> tuple[str, ...]:
        """Who may frame a page of no known store (the local simulator too, in development)."""
        simulator = (self.simulator_url,) if self.simulator_url else ()
        return self.frame_ancestors or UNKNOWN_STORE_FRAME_ANCESTORS + simulator

    @functools.cached_property
    def trusted_hosts(self) -> frozenset[str]:
        """Host names a request may name: APP_URL's, loopback, and BCAPP_TRUSTED_HOSTS
        (computed once: every request asks)."""
        app_host = (urlsplit(self.app_url).hostname or "").lower()
        return frozenset({app_host, *LOOPBACK_HOSTS, *self.extra_trusted_hosts})

    @functools.cached_property
    def login_origin(self) -> str:
        """The origin of BigCommerce's login service (it frames the app during installs;
        computed once: every page's frame-ancestors names it)."""
        parts = urlsplit(self.login_url)
        return f"{parts.scheme}://{parts.netloc}"

    @property
    def token_url(self) -> str:
        """BigCommerce's OAuth token endpoint."""
        return self.login_url.rstrip("/") + "/oauth2/token"

    @property
    def uses_https(self) -> bool:
        """True when the app's public URL is https (cookies then get `Secure`/`__Host-`)."""
        return urlsplit(self.app_url).scheme == "https"

    @property
    def webhook_destination(self) -> str:
        """Where BigCommerce delivers this app's webhooks."""
        return self.app_url.rstrip("/") + endpoints.WEBHOOKS.path

    @property
    def former_webhook_destinations(self) -> tuple[str, ...]:
        """Where BigCommerce delivered this app's webhooks under a former APP_URL."""
        return tuple(url.rstrip("/") + endpoints.WEBHOOKS.path for url in self.previous_app_urls)

    def callback_urls(self) -> dict[str, str]:
        """The exact callback URLs to register in the Developer Portal (bcapp/endpoints.py)."""
        base = self.app_url.rstrip("/")
        urls = {
            callback.portal_field: base + callback.path
            for callback in endpoints.declared()
            if callback.portal_field is not None
        }
        return urls | {endpoints.AUTH.portal_field or "": self.auth_callback_url}

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, dotenv: str = ".env") -> Settings:
        """Build and validate settings from the environment, with `.env` filling the gaps."""
        from dotenv import dotenv_values  # imported when read: its parser takes 30 ms to import

        values: dict[str, str] = {
            key: value for key, value in dotenv_values(dotenv).items() if value is not None
        }
        values.update(os.environ if environ is None else environ)
        return _build(values)


def _build(env: Mapping[str, str]) -> Settings:
    mode = env.get("BCAPP_ENV", DEVELOPMENT).strip().lower() or DEVELOPMENT
    if mode not in (PRODUCTION, DEVELOPMENT):
        raise ConfigurationError("BCAPP_ENV must be 'production' or 'development'")
    instance_dir = Path(env.get("BCAPP_INSTANCE_DIR", "instance"))
    if mode == PRODUCTION:
        require_production(env)
        client_id, client_secret = env["BC_CLIENT_ID"], env["BC_CLIENT_SECRET"]
        secret_key, key_text = env["SECRET_KEY"], env["TOKEN_ENCRYPTION_KEYS"]
    else:
        require_client_secret(env)
        client_id = env.get("BC_CLIENT_ID") or _DEV_CLIENT_ID
        client_secret = env.get("BC_CLIENT_SECRET") or kept_secret(instance_dir, "client_secret")
        secret_key = env.get("SECRET_KEY") or kept_secret(instance_dir, "secret_key")
        key_text = env.get("TOKEN_ENCRYPTION_KEYS") or kept_secret(
            instance_dir, "token_encryption_keys", new_key_entry
        )
    port = as_int(env, "PORT", 8000, low=1, high=65535)
    default_app_url = f"http://127.0.0.1:{port}"
    simulator_url = None
    if mode == DEVELOPMENT and not env.get("BC_CLIENT_ID"):
        # A different host name makes the control panel cross-site to the app, as in production.
        simulator_url = env.get("BCAPP_SIMULATOR_URL", f"http://localhost:{port + 1}").rstrip("/")
    settings = Settings(
        env=mode,
        client_id=client_id.strip(),
        client_secret=client_secret,
        secret_key=secret_key,
        token_keys=parse_keys(key_text),
        app_url=env.get("APP_URL", default_app_url).rstrip("/"),
        auth_callback_url=env.get("BC_AUTH_CALLBACK_URL", ""),
        redis_url=env.get("REDIS_URL") or None,
        login_url=env.get("BC_LOGIN_URL", simulator_url or "https://login.bigcommerce.com").rstrip(
            "/"
        ),
        api_url=env.get("BC_API_URL", simulator_url or "https://api.bigcommerce.com").rstrip("/"),
        instance_dir=instance_dir,
        previous_client_secrets=as_list(env, "BC_CLIENT_SECRET_PREVIOUS"),
        previous_app_urls=as_list(env, "APP_URL_PREVIOUS"),
        secret_key_fallbacks=as_list(env, "SECRET_KEY_FALLBACKS"),
        redis_prefix=env.get("BCAPP_REDIS_PREFIX", "bcapp"),
        jwt_leeway_seconds=as_int(env, "BCAPP_JWT_LEEWAY", 30, low=0, high=300),
        jwt_max_lifetime_seconds=(
            as_int(env, "BCAPP_JWT_MAX_LIFETIME", 86400 + 60, low=0, high=10**10) or None
        ),
        multi_user=as_flag(env, "BCAPP_MULTI_USER"),
        legacy_payloads=as_flag(env, "BCAPP_LEGACY_PAYLOADS"),
        frame_ancestors=tuple(env.get("BCAPP_FRAME_ANCESTORS", "").split()),
        rate_limit_per_address=as_int(env, "BCAPP_RATE_LIMIT_PER_ADDRESS", 120, low=0, high=10**6),
        rate_limit_per_store=as_int(env, "BCAPP_RATE_LIMIT_PER_STORE", 60, low=0, high=10**6),
        rate_limit_window_seconds=as_int(env, "BCAPP_RATE_LIMIT_WINDOW", 60, low=1, high=86400),
        rate_limit_auth_per_address=as_int(
            env, "BCAPP_RATE_LIMIT_AUTH_PER_ADDRESS", 10, low=0, high=10**6
        ),
        install_lock_wait_seconds=as_int(env, "BCAPP_INSTALL_LOCK_WAIT", 3, low=1, high=60),
        trusted_proxies=as_int(env, "BCAPP_TRUSTED_PROXIES", 0, low=0, high=5),
        extra_trusted_hosts=tuple(env.get("BCAPP_TRUSTED_HOSTS", "").lower().split()),
        uninstall_grace_seconds=as_int(env, "BCAPP_UNINSTALL_GRACE", 7 * 86400, low=0, high=10**8),
        receiver_modules=declaration_modules(env, mode),
        app_spec=app_spec(env),
        session_idle_seconds=as_int(env, "BCAPP_SESSION_IDLE", 3600, low=60, high=12 * 3600),
        blueprints=as_list(env, "BCAPP_BLUEPRINTS"),
        example_pages=example_pages(env, mode),
        user_agent=" ".join(env.get("BCAPP_USER_AGENT", "").split())[:200],
        log_format=env.get("LOG_FORMAT", "text").strip().lower() or "text",
        metrics_token=env.get("BCAPP_METRICS_TOKEN") or None,
        redis_min_replicas=as_int(env, "BCAPP_REDIS_MIN_REPLICAS", 0, low=0, high=10),
        redis_tls=redis_tls_from(env, env.get("REDIS_URL") or None),
        simulator_url=simulator_url,
        broker_url=env.get("BCAPP_BROKER_URL") or None,
        support_url=env.get("BCAPP_SUPPORT_URL") or None,
        privacy_url=env.get("BCAPP_PRIVACY_URL") or None,
        task_visibility_timeout=as_int(
            env, "BCAPP_TASK_VISIBILITY_TIMEOUT", 3600, low=1, high=7 * 86400
        ),
        task_retry_base=as_float(env, "BCAPP_TASK_RETRY_BASE", 10.0, low=0.0, high=3600.0),
        task_max_attempts=as_int(env, "BCAPP_TASK_MAX_ATTEMPTS", 10, low=1, high=100),
        billing=billing_from(env, instance_dir, simulated=simulator_url is not None),
        sessions_mode=as_choice(env, "BCAPP_SESSIONS", SESSION_MODES),
    )
    validate(settings)
    return settings
