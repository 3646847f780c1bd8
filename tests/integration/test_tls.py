"""HTTPS on a campus network: a real TLS handshake with the proxy, plain HTTP redirected, and the
self-signed certificate made at first start (with its warning)."""

from __future__ import annotations

import socket
import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from traitlets.config import Config

from sadari.hub import hubconfig, tls
from sadari.hub.settings import SadariSettings
from tests.support.hub import RunningHub, free_port

pytestmark = pytest.mark.hub


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningHub]:
    data = tmp_path_factory.mktemp("tls")
    cert, key, _ = tls.self_signed(tmp_path_factory.mktemp("campus-cert"), "127.0.0.1")
    port, redirect = free_port(), free_port()
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("REQUESTS_CA_BUNDLE", str(cert))  # the test's clients trust this certificate
        running = RunningHub.start(
            data,
            f"sqlite:///{data}/sadari.sqlite",
            trainees=2,
            SADARI_BIND_URL=f"https://127.0.0.1:{port}",
            SADARI_SSL_CERT=str(cert),
            SADARI_SSL_KEY=str(key),
            SADARI_HTTP_REDIRECT_PORT=str(redirect),
        )
        running.env["TEST_CA"] = str(cert)
        try:
            yield running
        finally:
            running.stop()


def test_login_page_over_a_verified_tls_handshake(hub: RunningHub) -> None:
    ca = hub.env["TEST_CA"]
    port = int(hub.url.rsplit(":", 1)[1])
    context = ssl.create_default_context(cafile=ca)
    with (
        socket.create_connection(("127.0.0.1", port), timeout=10) as raw,
        context.wrap_socket(raw, server_hostname="127.0.0.1") as conn,
    ):
        assert conn.version() in ("TLSv1.2", "TLSv1.3")
        assert conn.getpeercert()["subject"]  # the campus certificate, verified
    page = requests.get(f"{hub.url}/hub/login", timeout=10, verify=ca)
    assert page.status_code == 200 and "DEMO" in page.text
    plain = requests.Session()
    plain.trust_env = False  # the system's trust store only (not REQUESTS_CA_BUNDLE)
    with pytest.raises(requests.exceptions.SSLError):  # not trusted without the certificate
        plain.get(f"{hub.url}/hub/login", timeout=10)


def test_plain_http_is_redirected_to_https(hub: RunningHub) -> None:
    redirect = hub.env["SADARI_HTTP_REDIRECT_PORT"]
    r = requests.get(f"http://127.0.0.1:{redirect}/hub/login", allow_redirects=False, timeout=10)
    assert r.status_code in (301, 302, 307, 308)
    assert r.headers["Location"].startswith(f"https://127.0.0.1:{hub.url.rsplit(':', 1)[1]}/")


def test_self_signed_certificate_made_once_with_a_warning(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for var in ("SADARI_SSL_CERT", "SADARI_SSL_KEY", "SADARI_HTTP_REDIRECT_PORT"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("SADARI_AUTOMATION_TOKEN", "tok")
    settings = SadariSettings(
        project_dir=str(tmp_path), data_dir=str(tmp_path / "data"), bind_url="https://0.0.0.0:443"
    )
    c = hubconfig.apply(settings, Config())
    assert "self-signed" in capsys.readouterr().err
    cert = Path(c.JupyterHub.ssl_cert)
    assert cert == tmp_path / "data" / "tls" / "sadari.crt" and Path(c.JupyterHub.ssl_key).exists()
    assert (Path(c.JupyterHub.ssl_key).stat().st_mode & 0o077) == 0
    first = cert.read_bytes()
    hubconfig.apply(settings, Config())
    assert cert.read_bytes() == first  # made once, kept across starts
    info = ssl._ssl._test_decode_cert(str(cert))  # type: ignore[attr-defined]
    assert ("IP Address", "127.0.0.1") in info["subjectAltName"]
