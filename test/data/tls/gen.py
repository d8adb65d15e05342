#!/usr/bin/python3
# gen.py - certificates for the TLS tests, from python3-cryptography.
#
#   /usr/bin/python3 test/data/tls/gen.py   (rewrites test/data/tls/*.pem)
#
# Trust domains example.org (two CAs: ca-a, ca-a2) and other.org (ca-b).
# Every certificate is valid from 2020 to 2099.  Keys are P-256 unless
# named otherwise; private keys are PKCS#8 PEM (*-key.pem).
import datetime
import os

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

OUT = os.path.dirname(os.path.abspath(__file__))
NB = datetime.datetime(2020, 1, 1, tzinfo=datetime.timezone.utc)
NA = datetime.datetime(2099, 12, 31, tzinfo=datetime.timezone.utc)
serial = [1000]


def next_serial():
    serial[0] += 1
    return serial[0]


def write(name, data):
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(data)


def pem(cert):
    return cert.public_bytes(serialization.Encoding.PEM)


def keypem(key):
    return key.private_bytes(serialization.Encoding.PEM,
                             serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def ca(name, uri, parent=None, pkey=None, ds=False):
    key = ec.generate_private_key(ec.SECP256R1())
    subj = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "SPIFFE"),
                      x509.NameAttribute(NameOID.COMMON_NAME, name)])
    issuer = parent.subject if parent else subj
    b = (x509.CertificateBuilder().subject_name(subj).issuer_name(issuer)
         .public_key(key.public_key()).serial_number(next_serial())
         .not_valid_before(NB).not_valid_after(NA)
         .add_extension(x509.BasicConstraints(ca=True, path_length=None),
                        critical=True)
         .add_extension(x509.KeyUsage(ds, False, False, False, False,
                                      True, True, False, False), critical=True)
         .add_extension(x509.SubjectAlternativeName(
             [x509.UniformResourceIdentifier(uri)]), critical=False)
         .add_extension(x509.SubjectKeyIdentifier.from_public_key(
             key.public_key()), critical=False))
    cert = b.sign(pkey if pkey else key, hashes.SHA256())
    return cert, key


def leaf(uri, parent, pkey, rsa_key=False, dns=None):
    if rsa_key:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    else:
        key = ec.generate_private_key(ec.SECP256R1())
    sans = [x509.UniformResourceIdentifier(uri)]
    if dns:
        sans.append(x509.DNSName(dns))
    b = (x509.CertificateBuilder()
         .subject_name(x509.Name([x509.NameAttribute(
             NameOID.ORGANIZATION_NAME, "SPIRE")]))
         .issuer_name(parent.subject).public_key(key.public_key())
         .serial_number(next_serial())
         .not_valid_before(NB).not_valid_after(NA)
         .add_extension(x509.BasicConstraints(ca=False, path_length=None),
                        critical=True)
         .add_extension(x509.KeyUsage(True, False, True, False, True,
                                      False, False, False, False)
                        if rsa_key else
                        x509.KeyUsage(True, False, False, False, True,
                                      False, False, False, False),
                        critical=True)
         .add_extension(x509.ExtendedKeyUsage(
             [ExtendedKeyUsageOID.SERVER_AUTH,
              ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
         .add_extension(x509.SubjectAlternativeName(sans), critical=False))
    return b.sign(pkey, hashes.SHA256()), key


def save(name, cert, key, chain=()):
    write(name + ".pem", pem(cert) + b"".join(pem(c) for c in chain))
    write(name + "-key.pem", keypem(key))


ca_a, ca_a_key = ca("ca-a", "spiffe://example.org")
ca_a2, ca_a2_key = ca("ca-a2", "spiffe://example.org")
ca_b, ca_b_key = ca("ca-b", "spiffe://other.org")
inter, inter_key = ca("intermediate", "spiffe://example.org", ca_a, ca_a_key)
write("ca-a.pem", pem(ca_a))
write("ca-a2.pem", pem(ca_a2))
write("ca-b.pem", pem(ca_b))
# Bundles: example.org with one or both CAs; other.org.
write("bundle-a.pem", pem(ca_a))
write("bundle-a-a2.pem", pem(ca_a) + pem(ca_a2))
write("bundle-b.pem", pem(ca_b))

# server.pem and server2.pem: the same ID, two serials (rotation).
save("server", *leaf("spiffe://example.org/server", ca_a, ca_a_key,
                     dns="localhost"))
save("server2", *leaf("spiffe://example.org/server", ca_a, ca_a_key,
                      dns="localhost"))
save("server-rsa", *leaf("spiffe://example.org/server", ca_a, ca_a_key,
                         rsa_key=True))
# Leaf signed by an intermediate; the chain file holds leaf, intermediate.
c, k = leaf("spiffe://example.org/server", inter, inter_key)
save("server-chain", c, k, [inter])
save("wrong", *leaf("spiffe://example.org/wrong", ca_a, ca_a_key,
                    dns="localhost"))
save("client", *leaf("spiffe://example.org/client", ca_a, ca_a_key))
# Same ID, issued by ca-a2 (which a test drops from the bundle).
save("client-a2", *leaf("spiffe://example.org/client", ca_a2, ca_a2_key))
save("other-client", *leaf("spiffe://other.org/client", ca_b, ca_b_key))
# A CA certificate (cA=true, keyCertSign, and digitalSignature so that a
# TLS server can sign with it) presented as a leaf.
c, k = ca("ca-as-leaf", "spiffe://example.org/ca-as-leaf", ca_a, ca_a_key,
          ds=True)
save("ca-as-leaf", c, k)
