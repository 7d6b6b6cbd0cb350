"""Settings from the environment: development defaults, production refusals."""

from __future__ import annotations

from pathlib import Path

import pytest

from bcapp.crypto import new_key_entry
from bcapp.errors import ConfigurationError
from bcapp.settings import Settings
from tests.helpers import REQUIRED_IN_PRODUCTION

PRODUCTION = {
    "BCAPP_ENV": "production",
    "BC_CLIENT_ID": "client",
    "BC_CLIENT_SECRET": "secret-value-from-the-portal",
    "SECRET_KEY": "k" * 48,
    "TOKEN_ENCRYPTION_KEYS": new_key_entry(),
    "REDIS_URL": "rediss://redis.internal:6380/0",
    "APP_URL": "https://app.example.com",
}


def build(env: dict[str, str], tmp_path: Path) -> Settings:
    return Settings.from_env(env, dotenv=str(tmp_path / "missing.env"))


def test_development_generates_and_keeps_secrets(tmp_path: Path) -> None:
    env = {"BCAPP_INSTANCE_DIR": str(tmp_path / "instance")}
    first, second = build(env, tmp_path), build(env, tmp_path)

    assert first.secret_key == second.secret_key and len(first.secret_key) >= 32
    assert first.token_keys == second.token_keys
    assert (tmp_path / "instance" / "secret_key").stat().st_mode & 0o077 == 0
    assert first.redis_url is None
    assert first.auth_callback_url == "http://127.0.0.1:8000/bigcommerce/auth"


def test_production_with_everything_set(tmp_path: Path) -> None:
    settings = build(PRODUCTION, tmp_path)
    assert settings.is_production
    assert settings.auth_callback_url == "https://app.example.com/bigcommerce/auth"
    assert settings.token_url == "https://login.bigcommerce.com/oauth2/token"
    assert "secret-value" not in repr(settings)


def test_production_without_secrets_names_each_missing_variable(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError) as caught:
        build({"BCAPP_ENV": "production"}, tmp_path)
    message = str(caught.value)
    for name in REQUIRED_IN_PRODUCTION:
        assert name in message
    assert "bcapp keys new" in message


@pytest.mark.parametrize("name", ["BC_CLIENT_SECRET", "SECRET_KEY", "REDIS_URL"])
def test_production_refuses_placeholders(tmp_path: Path, name: str) -> None:
    with pytest.raises(ConfigurationError, match=name):
        build(PRODUCTION | {name: "changeme"}, tmp_path)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("APP_URL", "http://app.example.com"),
        ("BC_LOGIN_URL", "http://login.example.com"),
        ("BC_API_URL", "ftp://api.example.com"),
        ("BC_AUTH_CALLBACK_URL", "https://app.example.com/auth?x=1"),
        ("SECRET_KEY", "short"),
        ("TOKEN_ENCRYPTION_KEYS", "k1:abc"),
        ("BCAPP_JWT_LEEWAY", "9999"),
        ("BCAPP_JWT_LEEWAY", "soon"),
        ("BCAPP_ENV", "staging"),
        ("BCAPP_REDIS_PREFIX", "a:b"),
    ],
)
def test_invalid_values_are_refused(tmp_path: Path, name: str, value: str) -> None:
    with pytest.raises(ConfigurationError, match=name):
        build(PRODUCTION | {name: value}, tmp_path)


def test_production_allows_http_on_loopback(tmp_path: Path) -> None:
    settings = build(
        PRODUCTION | {"APP_URL": "http://127.0.0.1:8000", "BC_LOGIN_URL": "http://localhost:9000"},
        tmp_path,
    )
    assert settings.login_url == "http://localhost:9000"


def test_dotenv_fills_gaps_but_environment_wins(tmp_path: Path) -> None:
    dotenv = tmp_path / ".env"
    dotenv.write_text(
        "BC_CLIENT_ID=from-dotenv\nBC_CLIENT_SECRET=dotenv-secret\nAPP_URL=https://dotenv.example.com\n"
    )
    env = {"APP_URL": "https://env.example.com", "BCAPP_INSTANCE_DIR": str(tmp_path / "i")}
    settings = Settings.from_env(env, dotenv=str(dotenv))
    assert settings.client_id == "from-dotenv"
    assert settings.app_url == "https://env.example.com"


def test_callback_urls_for_the_developer_portal(tmp_path: Path) -> None:
    urls = build(PRODUCTION, tmp_path).callback_urls()
    assert urls["Load Callback URL"] == "https://app.example.com/bigcommerce/load"
    assert urls["Remove User Callback URL"] == "https://app.example.com/bigcommerce/remove-user"


def test_flags_parse_and_refuse_junk(tmp_path: Path) -> None:
    assert build(PRODUCTION | {"BCAPP_LEGACY_PAYLOADS": "off"}, tmp_path).legacy_payloads is False
    assert build(PRODUCTION | {"BCAPP_MULTI_USER": "no"}, tmp_path).multi_user is False
    assert build(PRODUCTION, tmp_path).multi_user is True
    with pytest.raises(ConfigurationError, match="BCAPP_MULTI_USER"):
        build(PRODUCTION | {"BCAPP_MULTI_USER": "maybe"}, tmp_path)


OLD1, OLD2 = "old-client-secret-1-abcdef", "old-client-secret-2-abcdef"
KEY_A, KEY_B = "k3Zp9-former-key-A-8Qw2LmX7vT4rYb6N", "Hs5q2-former-key-B-0Pz9KcV3nW8jEu1DfG"


def test_lists_of_previous_secrets(tmp_path: Path) -> None:
    env = PRODUCTION | {
        "BC_CLIENT_SECRET_PREVIOUS": f"{OLD1}, {OLD2}",
        "SECRET_KEY_FALLBACKS": f"{KEY_A},,{KEY_B}",
    }
    settings = build(env, tmp_path)
    assert settings.previous_client_secrets == (OLD1, OLD2)
    assert settings.secret_key_fallbacks == (KEY_A, KEY_B)
    assert OLD1 not in repr(settings) and KEY_A not in repr(settings)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("BC_CLIENT_SECRET_PREVIOUS", "secret"),  # a load forged with `secret` opened the app
        ("BC_CLIENT_SECRET_PREVIOUS", f"{OLD1},short"),
        ("BC_CLIENT_SECRET_PREVIOUS", "changeme-changeme".upper()[:8]),
        ("BC_CLIENT_SECRET_PREVIOUS", "changemechangeme"),  # 16 characters, seven distinct
        ("SECRET_KEY_FALLBACKS", "ab" * 20),
        ("BCAPP_METRICS_TOKEN", "changemechangeme"),
        ("BCAPP_METRICS_TOKEN", "x" * 16),
        ("SECRET_KEY_FALLBACKS", "secret"),
        ("SECRET_KEY_FALLBACKS", f"{KEY_A},tooshort"),
        ("BC_CLIENT_SECRET", "secret-value"),
    ],
)
@pytest.mark.parametrize("mode", ["production", "development"])
def test_weak_former_secrets_are_refused_like_current_ones(
    tmp_path: Path, name: str, value: str, mode: str
) -> None:
    env = PRODUCTION | {"BCAPP_ENV": mode, name: value}
    if name == "BC_CLIENT_SECRET" and mode == "development":
        build(env, tmp_path)  # development takes any client secret (the simulator's own)
        return
    with pytest.raises(ConfigurationError, match=name):
        build(env, tmp_path)


@pytest.mark.parametrize(
    "value",
    [
        "* ; script-src * 'unsafe-inline'",
        "https://a.example;script-src",
        "'self'",
        "https://a.example/path",
        "javascript:alert(1)",
        "https://a.example 'unsafe-inline'",
        "*",
        "https://*.com",
        "http://panel.example.com",
    ],
)
def test_frame_ancestors_take_only_origins(tmp_path: Path, value: str) -> None:
    with pytest.raises(ConfigurationError, match="BCAPP_FRAME_ANCESTORS"):
        build(PRODUCTION | {"BCAPP_FRAME_ANCESTORS": value}, tmp_path)


def test_frame_ancestors_accept_origins_and_wildcard_subdomains(tmp_path: Path) -> None:
    value = "https://store-abc.mybigcommerce.com https://*.example.com http://localhost:8001"
    settings = build(PRODUCTION | {"BCAPP_FRAME_ANCESTORS": value}, tmp_path)
    assert settings.frame_ancestors == tuple(value.split())
