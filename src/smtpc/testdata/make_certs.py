#!/usr/bin/env python3
# For tests only: writes a test CA and leaf certificates signed by it into DIR, plus the SHA-256
# digests of their public keys (SPKI) for DANE TLSA records, as digests.json:
#   ca.pem/ca.key            the test CA (self-signed, CA:TRUE)
#   good.pem/good.key        leaf for the names given with --name (chain file: good.pem holds leaf + CA)
#   wrong.pem/wrong.key      leaf for "wrong-name.invalid" (same CA)
#   expired.pem/expired.key  leaf for the --name names that expired yesterday (same CA)
# Used by src/smtpc/agent_test.cpp and tests/e2e/test_tls_policy.py. Depends on python3-cryptography.
import argparse
import datetime
import hashlib
import json
import os

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

ap = argparse.ArgumentParser()
ap.add_argument("dir")
ap.add_argument("--name", action="append", required=True, help="DNS name for the good and expired leaves")
args = ap.parse_args()

now = datetime.datetime.now(datetime.timezone.utc)
day = datetime.timedelta(days=1)


def key():
    return ec.generate_private_key(ec.SECP256R1())


def spki_sha256(k):
    der = k.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return hashlib.sha256(der).hexdigest()


def write(name, cert, k, chain=()):
    with open(os.path.join(args.dir, name + ".pem"), "wb") as f:
        for c in (cert, *chain):
            f.write(c.public_bytes(serialization.Encoding.PEM))
    with open(os.path.join(args.dir, name + ".key"), "wb") as f:
        f.write(k.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()))


ca_key = key()
ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Posthorn Test CA")])
ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
      .serial_number(x509.random_serial_number()).not_valid_before(now - day).not_valid_after(now + 3650 * day)
      .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
      .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
      .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
      .sign(ca_key, hashes.SHA256()))
write("ca", ca, ca_key)
digests = {"ca": spki_sha256(ca_key)}


def leaf(name, names, not_before, not_after):
    k = key()
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])]))
            .issuer_name(ca_name).public_key(k.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(not_before).not_valid_after(not_after)
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256()))
    write(name, cert, k, chain=(ca,))
    digests[name] = spki_sha256(k)


leaf("good", args.name, now - day, now + 365 * day)
leaf("wrong", ["wrong-name.invalid"], now - day, now + 365 * day)
leaf("expired", args.name, now - 30 * day, now - day)
with open(os.path.join(args.dir, "digests.json"), "w") as f:
    json.dump(digests, f)
