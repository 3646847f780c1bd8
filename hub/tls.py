"""HTTPS for a campus network: the campus's certificate, or a self-signed one made at first start.

Trainees type passwords on campus Wi-Fi, so a platform opened beyond loopback serves HTTPS. With
`bind_url` on https and no certificate given, `self_signed()` makes one with Debian's `openssl`
(RSA 2048, 825 days, the bind host, `localhost`, 127.0.0.1 and this machine's name as subject
alternative names) in <data_dir>/tls/, once, and the hub log warns that browsers will ask people
to accept it: set `ssl_cert`/`ssl_key` to the campus's certificate to end that.
"""

from __future__ import annotations

import ipaddress
import socket
import subprocess
from pathlib import Path

DAYS = 825  # the longest validity browsers accept for a server certificate


def alt_names(host: str) -> list[str]:
    """Subject alternative names for `host`: itself, localhost, 127.0.0.1, this machine."""
    names = {"DNS:localhost", "IP:127.0.0.1", f"DNS:{socket.gethostname()}"}
    if host and host not in ("0.0.0.0", "::"):
        try:
            ipaddress.ip_address(host)
            names.add(f"IP:{host}")
        except ValueError:
            names.add(f"DNS:{host}")
    return sorted(names)


def self_signed(folder: Path, host: str) -> tuple[Path, Path, bool]:
    """(certificate, key, made now): the self-signed pair in `folder`, made if missing."""
    cert, key = folder / "sadari.crt", folder / "sadari.key"
    if cert.exists() and key.exists():
        return cert, key, False
    folder.mkdir(parents=True, exist_ok=True)
    folder.chmod(0o700)
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-sha256",
         "-days", str(DAYS), "-subj", f"/CN={host or 'localhost'}/O=sadari (self-signed)",
         "-addext", f"subjectAltName={','.join(alt_names(host))}",
         "-keyout", str(key), "-out", str(cert)],
        check=True,
        capture_output=True,
        timeout=60,
    )  # fmt: skip
    key.chmod(0o600)
    return cert, key, True
