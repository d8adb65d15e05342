#!/usr/bin/python3
"""
gen_x509_vectors.py - X.509-SVID test vectors from an independent
implementation (python3-cryptography on OpenSSL), for test_x509svid.c.

    /usr/bin/python3 test/data/gen_x509_vectors.py

Writes test/data/x509svid/ (certificates as PEM, keys as PKCS#8 PEM unless
named otherwise, Workload API forms as DER) and the fuzz seeds in
test/fuzz/corpus/x509svid/.  Files are named by intent, like go-spiffe's
svid/x509svid/testdata.  Keys are fresh on every run; validity windows are
fixed, so tests pin the clock with spiffe_clock_set():

    CAs     2025-01-01T00:00:00Z .. 2036-01-01T00:00:00Z
    leaves  2026-01-01T00:00:00Z .. 2036-01-01T00:00:00Z
    expired-leaf          2025-01-01 .. 2026-01-01T00:00:00Z
    not-yet-valid-leaf    2027-01-01T00:00:00Z .. 2036-01-01
    expired-intermediate  2025-01-01 .. 2026-01-01T00:00:00Z

Tests run at 2026-06-01T00:00:00Z unless they probe a boundary.
"""
import datetime
import os
import shutil
import struct

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import (ec, ed25519, padding,
                                                       rsa, x25519)
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID, ObjectIdentifier

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "x509svid")
SEEDS = os.path.join(HERE, "..", "fuzz", "corpus", "x509svid")
UTC = datetime.timezone.utc


def t(y, m, d):
    return datetime.datetime(y, m, d, tzinfo=UTC)


CA_NB, CA_NA = t(2025, 1, 1), t(2036, 1, 1)
LEAF_NB, LEAF_NA = t(2026, 1, 1), t(2036, 1, 1)
ID = "spiffe://example.org/workload"


def p256():
    return ec.generate_private_key(ec.SECP256R1())


def name(cn):
    return x509.Name([
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "libspiffe test"),
        x509.NameAttribute(NameOID.COMMON_NAME, cn),
    ])


def ku(ds=False, cs=False, crl=False, ke=False):
    return x509.KeyUsage(digital_signature=ds, content_commitment=False,
                         key_encipherment=ke, data_encipherment=False,
                         key_agreement=False, key_cert_sign=cs,
                         crl_sign=crl, encipher_only=False,
                         decipher_only=False)


CA_KU = ku(cs=True, crl=True)
LEAF_KU = ku(ds=True)
NO_KU = object()


class Cert:
    """A certificate with its key, so it can sign others."""

    def __init__(self, cert, key):
        self.cert, self.key = cert, key

    def der(self):
        return self.cert.public_bytes(serialization.Encoding.DER)

    def pem(self):
        return self.cert.public_bytes(serialization.Encoding.PEM)


def make(cn, issuer=None, key=None, ca=False, pathlen=None, usage=None,
         uris=(ID,), dns=(), nb=None, na=None, extra=(), hash_alg=None,
         bc=True):
    """
    issuer None: self-signed.  usage: an x509.KeyUsage, NO_KU to omit the
    extension, or None for the CA/leaf default.  extra: (ext, critical).
    """
    key = key or p256()
    if usage is None:
        usage = CA_KU if ca else LEAF_KU
    nb = nb or (CA_NB if ca else LEAF_NB)
    na = na or (CA_NA if ca else LEAF_NA)
    signer = issuer.key if issuer else key
    b = (x509.CertificateBuilder()
         .subject_name(name(cn))
         .issuer_name(issuer.cert.subject if issuer else name(cn))
         .public_key(key.public_key())
         .serial_number(x509.random_serial_number())
         .not_valid_before(nb)
         .not_valid_after(na))
    if bc:
        b = b.add_extension(x509.BasicConstraints(ca=ca, path_length=pathlen),
                            critical=True)
    if usage is not NO_KU:
        b = b.add_extension(usage, critical=True)
    if not ca:
        b = b.add_extension(x509.ExtendedKeyUsage(
            [ExtendedKeyUsageOID.SERVER_AUTH,
             ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
    sans = [x509.UniformResourceIdentifier(u) for u in uris]
    sans += [x509.DNSName(d) for d in dns]
    if sans:
        b = b.add_extension(x509.SubjectAlternativeName(sans),
                            critical=False)
    b = b.add_extension(x509.SubjectKeyIdentifier.from_public_key(
        key.public_key()), critical=False)
    if issuer:
        b = b.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(
                issuer.key.public_key()), critical=False)
    for ext, crit in extra:
        b = b.add_extension(ext, critical=crit)
    if hash_alg is None:
        hash_alg = hashes.SHA256()
    return Cert(b.sign(signer, hash_alg), key)


# --- minimal DER, to re-sign a certificate with RSASSA-PSS ----------------

def der_len(n):
    if n < 0x80:
        return bytes([n])
    b = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(b)]) + b


def tlv(tag, body):
    return bytes([tag]) + der_len(len(body)) + body


def der_items(body):
    """Splits the contents of a constructed element into whole TLVs."""
    out, i = [], 0
    while i < len(body):
        j = i + 1
        n = body[j]
        j += 1
        if n & 0x80:
            k = n & 0x7F
            n = int.from_bytes(body[j:j + k], "big")
            j += k
        out.append(body[i:j + n])
        i = j + n
    return out


def der_body(el):
    j = 2 + (el[1] & 0x7F if el[1] & 0x80 else 0)
    return el[j:]


def oid(dotted):
    parts = [int(x) for x in dotted.split(".")]
    out = bytes([parts[0] * 40 + parts[1]])
    for v in parts[2:]:
        enc = [v & 0x7F]
        v >>= 7
        while v:
            enc.insert(0, 0x80 | (v & 0x7F))
            v >>= 7
        out += bytes(enc)
    return tlv(0x06, out)


def pss_sha256_algid():
    """RSASSA-PSS, SHA-256, MGF1 with SHA-256, salt 32 (RFC 4055)."""
    sha256 = tlv(0x30, oid("2.16.840.1.101.3.4.2.1") + b"\x05\x00")
    mgf1 = tlv(0x30, oid("1.2.840.113549.1.1.8") + sha256)
    params = tlv(0x30, tlv(0xA0, sha256) + tlv(0xA1, mgf1) +
                 tlv(0xA2, tlv(0x02, b"\x20")))
    return tlv(0x30, oid("1.2.840.113549.1.1.10") + params)


def resign_pss(cert, rsa_key):
    """The same certificate, signed by rsa_key with RSASSA-PSS/SHA-256."""
    tbs_items = der_items(der_body(cert.cert.tbs_certificate_bytes))
    alg = pss_sha256_algid()
    tbs_items[2] = alg      # after [0] version and serialNumber
    tbs = tlv(0x30, b"".join(tbs_items))
    sig = rsa_key.sign(tbs, padding.PSS(mgf=padding.MGF1(hashes.SHA256()),
                                        salt_length=32), hashes.SHA256())
    der = tlv(0x30, tbs + alg + tlv(0x03, b"\x00" + sig))
    return Cert(x509.load_der_x509_certificate(der), cert.key)


def write(fname, data):
    with open(os.path.join(OUT, fname), "wb") as f:
        f.write(data)


def pkcs8(key, enc=serialization.Encoding.PEM):
    return key.private_bytes(enc, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def write_svid(base, certs, key):
    """base.pem holds the chain leaf first, base-key.pem its PKCS#8 key."""
    write(base + ".pem", b"".join(c.pem() for c in certs))
    write(base + "-key.pem", pkcs8(key))


def seed(fname, chain_der, key_der):
    """
    Fuzz inputs, one a mode: a 2-byte big-endian header (top two bits the
    mode: 0 DER parse, 1 PEM parse, 2 verify, 3 all; low 14 bits the chain
    length), the chain, then the key.  The PEM seeds carry PEM text.
    """
    def pem(der, label):
        import base64
        b = base64.b64encode(der).decode()
        lines = [b[i:i + 64] for i in range(0, len(b), 64)]
        return ("-----BEGIN %s-----\n%s\n-----END %s-----\n" %
                (label, "\n".join(lines), label)).encode()

    certs = []
    rest = chain_der
    while rest:
        n = 2 + (rest[1] & 0x7F if rest[1] & 0x80 else 0)
        n += int.from_bytes(rest[2:n], "big") if rest[1] & 0x80 else rest[1]
        certs.append(rest[:n])
        rest = rest[n:]
    chain_pem = b"".join(pem(c, "CERTIFICATE") for c in certs)
    key_pem = pem(key_der, "PRIVATE KEY") if key_der else b""
    for mode, c, k in ((0, chain_der, key_der), (1, chain_pem, key_pem),
                       (2, chain_der, b""), (3, chain_der, key_der)):
        assert len(c) < 1 << 14
        with open(os.path.join(SEEDS, "%s-%d" % (fname, mode)), "wb") as f:
            f.write(struct.pack(">H", mode << 14 | len(c)) + c + k)


def main():
    if os.path.isdir(OUT):
        shutil.rmtree(OUT)
    os.makedirs(OUT)
    os.makedirs(SEEDS, exist_ok=True)

    # Trust domain example.org: root, its successor, an intermediate.
    root = make("example.org root CA", ca=True, uris=("spiffe://example.org",))
    root_next = make("example.org next root CA", ca=True,
                     uris=("spiffe://example.org",))
    inter = make("example.org intermediate CA", issuer=root, ca=True,
                 pathlen=0, uris=("spiffe://example.org",))
    write("root-ca.pem", root.pem())
    write("root-ca.der", root.der())
    write("root-ca-next.pem", root_next.pem())
    write("intermediate-ca.pem", inter.pem())
    # The Workload API bundle form: concatenated DER.
    write("bundle.der", root.der() + root_next.der())

    # Good SVIDs.
    good = make("workload", issuer=root)
    write_svid("good-leaf", [good], good.key)
    write("good-leaf.der", good.der())
    write("good-leaf-key.der", pkcs8(good.key, serialization.Encoding.DER))
    write("good-leaf-key-sec1.pem", good.key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption()))
    write("good-leaf-key-sec1.der", good.key.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption()))
    for curve, tag in ((ec.SECP384R1(), "p384"), (ec.SECP521R1(), "p521")):
        c = make("workload " + tag, issuer=root,
                 key=ec.generate_private_key(curve), hash_alg=hashes.SHA384()
                 if tag == "p384" else hashes.SHA512())
        write_svid("good-leaf-" + tag, [c], c.key)
    rk = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    rc = make("workload rsa", issuer=root, key=rk, usage=ku(ds=True, ke=True))
    write_svid("good-leaf-rsa", [rc], rk)
    write("good-leaf-rsa-key-pkcs1.pem", rk.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption()))
    c = make("workload dns", issuer=root, dns=("workload.example.org",))
    write_svid("good-leaf-dns-san", [c], c.key)
    c = make("workload next", issuer=root_next)
    write_svid("good-leaf-next-root", [c], c.key)
    # Leaf via intermediate, in PEM and in the Workload API DER form.
    gc = make("workload via intermediate", issuer=inter)
    write_svid("good-chain", [gc, inter], gc.key)
    write("good-chain.der", gc.der() + inter.der())
    write("good-chain-key.der", pkcs8(gc.key, serialization.Encoding.DER))

    # Leaf rules.
    neg = {
        "leaf-ca-true": dict(ca=True, usage=LEAF_KU),
        "leaf-keycertsign": dict(usage=ku(ds=True, cs=True)),
        "leaf-crlsign": dict(usage=ku(ds=True, crl=True)),
        "leaf-no-digitalsignature": dict(usage=ku(ke=True)),
        "leaf-no-keyusage": dict(usage=NO_KU),
        "two-uri-sans": dict(uris=(ID, "https://example.org/workload")),
        "no-uri-san": dict(uris=(), dns=("workload.example.org",)),
        "root-path-id": dict(uris=("spiffe://example.org",)),
        "uri-not-spiffe": dict(uris=("https://example.org/workload",)),
        "expired-leaf": dict(nb=t(2025, 1, 1), na=t(2026, 1, 1)),
        "not-yet-valid-leaf": dict(nb=t(2027, 1, 1)),
        "leaf-sha1": dict(hash_alg=hashes.SHA1()),
        "leaf-unknown-critical-ext": dict(extra=((x509.UnrecognizedExtension(
            ObjectIdentifier("1.3.6.1.4.1.55555.1"), b"\x05\x00"), True),)),
    }
    for base, kw in neg.items():
        c = make(base, issuer=root, **kw)
        write_svid(base, [c], c.key)
    rk = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    c = make("leaf-rsa-1024", issuer=root, key=rk)
    write_svid("leaf-rsa-1024", [c], rk)

    # A valid leaf whose signature no longer matches (last byte flipped).
    der = bytearray(good.der())
    der[-1] ^= 0x01
    write("bad-signature.pem", x509.load_der_x509_certificate(
        bytes(der)).public_bytes(serialization.Encoding.PEM))

    # A self-signed, non-CA leaf, to be put in a bundle as its own anchor.
    c = make("self-signed leaf")
    write_svid("self-signed-leaf", [c], c.key)

    # Chains to a CA outside the bundle: one with its own name, one that
    # copies the real root's name (only the signature tells them apart).
    unknown = make("unknown root CA", ca=True, uris=("spiffe://example.org",))
    write("unknown-root-ca.pem", unknown.pem())
    c = make("unknown-root", issuer=unknown)
    write_svid("unknown-root", [c], c.key)
    impostor = make("example.org root CA", ca=True,
                    uris=("spiffe://example.org",))
    write("impostor-root-ca.pem", impostor.pem())
    c = make("impostor-root", issuer=impostor)
    write_svid("impostor-root", [c], c.key)

    # Another trust domain.
    other_root = make("other.org root CA", ca=True,
                      uris=("spiffe://other.org",))
    write("other-td-root-ca.pem", other_root.pem())
    c = make("other-td", issuer=other_root,
             uris=("spiffe://other.org/workload",))
    write_svid("other-td", [c], c.key)

    # Intermediates that must not sign.
    bad_inters = {
        "intermediate-not-ca": dict(ca=False, usage=CA_KU),
        "intermediate-no-keycertsign": dict(ca=True, usage=ku(crl=True)),
        "intermediate-no-keyusage": dict(ca=True, usage=NO_KU),
        "expired-intermediate": dict(ca=True, nb=t(2025, 1, 1),
                                     na=t(2026, 1, 1)),
    }
    for base, kw in bad_inters.items():
        i = make(base + " CA", issuer=root, uris=("spiffe://example.org",),
                 **kw)
        c = make(base, issuer=i)
        write_svid(base, [c, i], c.key)
    # Deep paths: mbedTLS builds at most 8 intermediates.
    for count in (8, 9):
        chain, issuer = [], root
        for k in range(count):
            issuer = make("intermediate %d CA" % (k + 1), issuer=issuer,
                          ca=True, uris=("spiffe://example.org",))
            chain.insert(0, issuer)
        c = make("%d intermediates" % count, issuer=issuer)
        write_svid("chain-%d-intermediates" % count, [c] + chain, c.key)
    # An intermediate with a key below the policy's minimum.
    i = make("intermediate-rsa-1024 CA", issuer=root, ca=True,
             key=rsa.generate_private_key(public_exponent=65537,
                                          key_size=1024),
             uris=("spiffe://example.org",))
    c = make("intermediate-rsa-1024", issuer=i)
    write_svid("intermediate-rsa-1024", [c, i], c.key)
    # pathLenConstraint 0 on the upper intermediate, two below the root.
    i1 = make("pathlen 0 CA", issuer=root, ca=True, pathlen=0,
              uris=("spiffe://example.org",))
    i2 = make("below pathlen 0 CA", issuer=i1, ca=True,
              uris=("spiffe://example.org",))
    c = make("intermediate-pathlen-exceeded", issuer=i2)
    write_svid("intermediate-pathlen-exceeded", [c, i2, i1], c.key)

    # An RSA root, and a leaf it signs with RSASSA-PSS.
    rsa_root_key = rsa.generate_private_key(public_exponent=65537,
                                            key_size=2048)
    rsa_root = make("example.org RSA root CA", key=rsa_root_key, ca=True,
                    uris=("spiffe://example.org",))
    write("rsa-root-ca.pem", rsa_root.pem())
    c = resign_pss(make("leaf-rsa-pss", issuer=rsa_root), rsa_root_key)
    write_svid("leaf-rsa-pss", [c], c.key)

    # Private keys of types an SVID may not have (PKCS#8 DER).
    write("x25519-key.der", pkcs8(x25519.X25519PrivateKey.generate(),
                                  serialization.Encoding.DER))
    write("ed25519-key.der", pkcs8(ed25519.Ed25519PrivateKey.generate(),
                                   serialization.Encoding.DER))

    # The leaf's certificate with some other P-256 key.
    write("key-mismatch.pem", good.pem())
    write("key-mismatch-key.pem", pkcs8(p256()))

    # Roots whose name constraints exclude the leaf's URI (example.org).
    nc = x509.NameConstraints(permitted_subtrees=None, excluded_subtrees=[
        x509.UniformResourceIdentifier("example.org")])
    for base, crit in (("name-constraints", True),
                       ("name-constraints-noncritical", False)):
        r = make("example.org constrained root CA", ca=True,
                 uris=("spiffe://example.org",), extra=((nc, crit),))
        write(base + "-ca.pem", r.pem())
        write(base + "-ca.der", r.der())
        c = make(base, issuer=r)
        write_svid(base + "-leaf", [c], c.key)

    # Fuzz seeds.
    for f in os.listdir(SEEDS):
        os.unlink(os.path.join(SEEDS, f))
    seed("good-chain", gc.der() + inter.der(),
         pkcs8(gc.key, serialization.Encoding.DER))
    seed("good-leaf", good.der(), pkcs8(good.key, serialization.Encoding.DER))
    seed("good-leaf-rsa", rc.der(), pkcs8(rc.key, serialization.Encoding.DER))
    seed("key-mismatch", good.der(), pkcs8(p256(), serialization.Encoding.DER))
    seed("empty", b"", b"")
    for base in ("other-td", "expired-leaf", "leaf-no-keyusage",
                 "two-uri-sans", "intermediate-pathlen-exceeded",
                 "intermediate-not-ca", "leaf-rsa-1024", "leaf-sha1"):
        with open(os.path.join(OUT, base + ".pem"), "rb") as f:
            blocks = f.read().split(b"-----END CERTIFICATE-----")
        chain = b"".join(
            x509.load_pem_x509_certificate(b + b"-----END CERTIFICATE-----")
            .public_bytes(serialization.Encoding.DER)
            for b in blocks if b.strip())
        with open(os.path.join(OUT, base + "-key.pem"), "rb") as f:
            key = serialization.load_pem_private_key(f.read(), None)
        seed(base, chain, pkcs8(key, serialization.Encoding.DER))


if __name__ == "__main__":
    main()
