"""`bcapp check --marketplace`: the rules a BigCommerce app reviewer applies that a server can
check from its own configuration, each with what to change when it fails.

Pure checks of the settings and declarations (no network): https `APP_URL` on port 443, multi-
user on, every required scope declared with a reason (`bcapp.scopes.require`), the webhook
destination in a form BigCommerce delivers to, valid App Extensions, support and privacy pages
configured, and no sensitive value in any URL the app emits.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlsplit

from bcapp import extensions, scopes
from bcapp.endpoints import PREFIX
from bcapp.settings import Settings
from bcapp.validation import LOOPBACK_HOSTS

SENSITIVE_NAMES = ("token", "secret", "key", "password", "code", "signed_payload", "jwt")


@dataclass(frozen=True)
class Finding:
    """One rule's verdict and the line that says it (what to change, when it failed)."""

    passed: bool
    line: str


def review(settings: Settings) -> list[Finding]:
    """Every rule's finding, in the order a reviewer reads them."""
    return [
        _app_url(settings),
        _multi_user(settings),
        *_scopes(settings),
        _webhook_destination(settings),
        _extensions(),
        *_pages(settings),
        _no_secret_in_urls(settings),
    ]


def _app_url(settings: Settings) -> Finding:
    if not _reachable(settings.app_url):
        return Finding(
            False,
            f"APP_URL {settings.app_url}: use the app's public https:// URL on "
            "port 443 (BigCommerce loads the app and sends webhooks there)",
        )
    return Finding(True, f"APP_URL {settings.app_url}: public https on port 443")


def _multi_user(settings: Settings) -> Finding:
    if not settings.multi_user:
        return Finding(
            False,
            "BCAPP_MULTI_USER is off: turn it on and enable multiple users in "
            "the Developer Portal (reviewers expect staff to open the app)",
        )
    return Finding(True, "multi-user: on")


def _scopes(settings: Settings) -> list[Finding]:
    reasons = {requirement.name: requirement.reason for requirement in scopes.requirements()}
    found = []
    for name in sorted(settings.required_scopes.names):
        reason = reasons.get(name)
        if reason is None:
            found.append(
                Finding(
                    False,
                    f"scope {name}: no reason given; declare it with "
                    f"bcapp.scopes.require({name!r}, reason=...), or drop it if no code needs it",
                )
            )
        else:
            found.append(Finding(True, f"scope {name}: {reason}"))
    return found


def _webhook_destination(settings: Settings) -> Finding:
    destination = settings.webhook_destination
    if not _reachable(destination):
        return Finding(
            False,
            f"webhook destination {destination}: BigCommerce delivers only to a "
            "public https host on port 443; fix APP_URL",
        )
    return Finding(True, f"webhook destination {destination}")


def _extensions() -> Finding:
    declared = extensions.declared()
    inside = [e for e in declared if e.url.startswith(PREFIX + "/")]
    if inside:
        return Finding(
            False,
            f"App Extension url {inside[0].url} points at bcapp's callbacks: "
            "give it a page of the app",
        )
    return Finding(True, f"App Extensions: {len(declared)} declared, each valid")


def _pages(settings: Settings) -> list[Finding]:
    found = []
    for name, url, what in (
        ("BCAPP_SUPPORT_URL", settings.support_url, "support"),
        ("BCAPP_PRIVACY_URL", settings.privacy_url, "privacy policy"),
    ):
        if url is None or urlsplit(url).scheme != "https":
            found.append(
                Finding(
                    False,
                    f"{name}: set it to the https address of your {what} page "
                    "(shown at the foot of every app page)",
                )
            )
        else:
            parts = urlsplit(url)  # shown without its query: that is checked below, unprinted
            found.append(Finding(True, f"{what} page: {parts.scheme}://{parts.netloc}{parts.path}"))
    return found


def _no_secret_in_urls(settings: Settings) -> Finding:
    urls = [
        ("APP_URL", settings.app_url),
        ("the webhook destination", settings.webhook_destination),
        *settings.callback_urls().items(),
        *(
            (name, url)
            for name, url in (
                ("BCAPP_SUPPORT_URL", settings.support_url),
                ("BCAPP_PRIVACY_URL", settings.privacy_url),
            )
            if url
        ),
    ]
    secrets = [
        value
        for value in (settings.client_secret, settings.secret_key, settings.metrics_token)
        if value
    ]
    for label, url in urls:
        names = [name.lower() for name, _ in parse_qsl(urlsplit(url).query)]
        if any(secret in url for secret in secrets) or any(
            sensitive in name for name in names for sensitive in SENSITIVE_NAMES
        ):  # the URL itself is not printed: it may hold the secret
            return Finding(
                False,
                f"{label}: this URL carries a secret or a credential-like parameter; remove it",
            )
    return Finding(True, f"no secret in the {len(urls)} URLs the app emits")


def _reachable(url: str) -> bool:
    """True for an https URL on port 443 of a public host (what BigCommerce calls)."""
    parts = urlsplit(url)
    return parts.scheme == "https" and parts.port in (None, 443) and _public(parts.hostname)


def _public(host: str | None) -> bool:
    """True for a host name BigCommerce can reach: not loopback, not a private address."""
    if not host or host in LOOPBACK_HOSTS or host.endswith((".local", ".internal")):
        return False
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return "." in host
    return address.is_global
