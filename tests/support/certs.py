"""Test certificates made with `cryptography`: a test CA and the leaves the TLS tests need.

`make_pki(directory)` writes PEM files and returns their paths:
- `ca`: the test CA (the host trusts it through SSL_CERT_FILE);
- `good`: localhost + 127.0.0.1, signed by the CA;
- `self_signed`: localhost, signed by itself (-202);
- `wrong_name`: only "wrong.example", signed by the CA (-200);
- `expired`: localhost, signed by the CA, expired yesterday (-201).
"""
from __future__ import annotations

import datetime
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


@dataclass(frozen=True)
class Leaf:
    cert: Path
    key: Path


@dataclass(frozen=True)
class Pki:
    ca: Path
    good: Leaf
    self_signed: Leaf
    wrong_name: Leaf
    expired: Leaf


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _write_key(path: Path, key: ec.EllipticCurvePrivateKey) -> None:
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))


def _cert(subject: str, key: ec.EllipticCurvePrivateKey, issuer: str, issuer_key: ec.EllipticCurvePrivateKey,
          *, ca: bool, names: list[x509.GeneralName], days: tuple[int, int] = (-1, 30)) -> x509.Certificate:
    now = datetime.datetime.now(datetime.timezone.utc)
    builder = (x509.CertificateBuilder()
               .subject_name(_name(subject)).issuer_name(_name(issuer))
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(now + datetime.timedelta(days=days[0]))
               .not_valid_after(now + datetime.timedelta(days=days[1]))
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if ca:
        builder = builder.add_extension(x509.KeyUsage(
            digital_signature=True, content_commitment=False, key_encipherment=False, data_encipherment=False,
            key_agreement=False, key_cert_sign=True, crl_sign=True, encipher_only=False,
            decipher_only=False), critical=True)
        builder = builder.add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                                        critical=False)
    else:
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
        builder = builder.add_extension(
            x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()), critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


def make_pki(directory: Path) -> Pki:
    directory.mkdir(parents=True, exist_ok=True)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_cert = _cert("resocket test CA", ca_key, "resocket test CA", ca_key, ca=True, names=[])
    ca_path = directory / "ca.pem"
    ca_path.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    localhost = [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                 x509.IPAddress(ipaddress.ip_address("::1"))]

    def leaf(name: str, names: list[x509.GeneralName], *, self_signed: bool = False,
             days: tuple[int, int] = (-1, 30)) -> Leaf:
        key = ec.generate_private_key(ec.SECP256R1())
        if self_signed:
            cert = _cert("localhost", key, "localhost", key, ca=False, names=names, days=days)
        else:
            cert = _cert(names and "leaf" or name, key, "resocket test CA", ca_key, ca=False, names=names,
                         days=days)
        cert_path, key_path = directory / f"{name}.pem", directory / f"{name}.key"
        cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        _write_key(key_path, key)
        return Leaf(cert_path, key_path)

    return Pki(
        ca=ca_path,
        good=leaf("good", localhost),
        self_signed=leaf("self-signed", localhost, self_signed=True),
        wrong_name=leaf("wrong-name", [x509.DNSName("wrong.example")]),
        expired=leaf("expired", localhost, days=(-30, -1)),
    )
