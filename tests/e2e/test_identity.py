"""Identity binding through the proxy: agents recognised by proxy credential and by client
certificate (SPIFFE URI SAN, mTLS on intercepted TLS), unknown agents and bad credentials
denied with a receipt, the human from a signed user token (JWKS: signature, exp, aud) or from
a header marked unverified, the service from the upstream credential's key id, and the
identity headers kept from the upstream."""
import base64
import datetime
import hashlib
import json
import time

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.x509.oid import NameOID

from conftest import curl, free_port, make_ca

AGENT_TOKEN = "agent-token-1"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def jwt(key, claims, kid="idp-1"):
    header = b64url(json.dumps({"alg": "EdDSA", "typ": "JWT", "kid": kid}).encode())
    payload = b64url(json.dumps(claims).encode())
    signature = key.sign(f"{header}.{payload}".encode())
    return f"{header}.{payload}.{b64url(signature)}"


def client_cert(directory, ca_key, ca_cert, spiffe_id, name):
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
        .issuer_name(ca_cert.subject).public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1)).not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.UniformResourceIdentifier(spiffe_id)]), critical=False)
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    cert_path, key_path = directory / f"{name}.pem", directory / f"{name}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


def test_identity_binding(start_aarmor, upstream, tmp_path):
    idp = ed25519.Ed25519PrivateKey.generate()
    public = idp.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    jwks = {"keys": [{"kty": "OKP", "crv": "Ed25519", "x": b64url(public), "kid": "idp-1", "alg": "EdDSA"}]}
    agents_ca_key, agents_ca, agents_ca_path = make_ca(tmp_path, "agents CA")
    other_ca_key, other_ca, _ = make_ca(tmp_path, "other CA")
    registry = f"""
agents:
  - name: billing-agent
    role: payments
    credentials:
      - bearer_sha256: "{hashlib.sha256(AGENT_TOKEN.encode()).hexdigest()}"
  - name: research-agent
    spiffe_ids: ["spiffe://corp.example/agents/research/*"]
human:
  user_token:
    jwks_file: idp.jwks.json
    audience: [aarmor]
    issuer: ["https://idp.example"]
    subject_claim: email
  headers: [x-aarm-user]
"""
    tls_port = free_port()
    a = start_aarmor(extra_proxy=f'client_ca_file = "{agents_ca_path}"\ntls_listen = "127.0.0.1:{tls_port}"',
                     policy_files={"identities.yaml": registry, "idp.jwks.json": json.dumps(jwks)})
    url = f"https://localhost:{upstream.port}/v1/items"

    def post(*extra):
        r = curl("--proxy", a.url, "--cacert", str(a.ca), "-o", "-", "-w", "\n%{http_code}",
                 "-H", "content-type: application/json", "-H", "authorization: Bearer sk-upstream-secret-1",
                 "-d", '{"name": "widget"}', *extra, url)
        body, _, status = r.stdout.rpartition("\n")
        return status, body, r

    def last_decision():
        return [x for x in a.receipts() if x["kind"] == "decision"][-1]

    bearer = ("--proxy-header", f"Proxy-Authorization: Bearer {AGENT_TOKEN}")
    now = int(time.time())
    claims = {"email": "ana@corp.example", "aud": "aarmor", "iss": "https://idp.example", "exp": now + 600,
              "role": "finance", "act": {"sub": "agent-platform"}}

    # A registered credential and a valid user token: verified end to end.
    status, body, _ = post(*bearer, "-H", f"x-aarm-user-token: {jwt(idp, claims)}")
    assert status == "200", body
    identity = last_decision()["action"]["identity"]
    assert identity["agent"] == "billing-agent" and identity["human"] == "ana@corp.example"
    assert identity["role"] == "finance"
    assert identity["evidence"] == {"agent": "credential", "human": "jwt", "service": "upstream_credential"}
    assert "unverified" not in identity
    assert identity["service"].startswith("localhost/sha256:") and "secret" not in identity["service"]
    assert [list(x)[0] for x in identity["delegation_chain"]] == ["human", "actor", "agent"]
    assert identity["expires"].endswith("Z")
    seen = {k.lower(): v for k, v in upstream.seen[-1]["headers"].items()}
    assert "x-aarm-user-token" not in seen and "proxy-authorization" not in seen
    assert seen["authorization"] == "Bearer sk-upstream-secret-1", "the upstream credential passes"

    # An unknown agent (no credential, loopback not registered here) is denied, with a receipt.
    status, body, _ = post()
    assert status == "403", body
    denied = last_decision()
    assert denied["decision"]["rule"] == "identity.unverified" and denied["decision"]["result"] == "DENY"
    assert "127.0.0.1" in denied["action"]["identity"]["unverified"][0]
    # A credential the registry does not know never falls back to the address.
    status, _, _ = post("--proxy-header", "Proxy-Authorization: Bearer stolen")
    assert status == "403" and "not in the identity registry" in last_decision()["decision"]["reason"]
    # Expired, wrongly addressed or forged user tokens are refused.
    for bad, why in [({**claims, "exp": now - 600}, "expired"), ({**claims, "aud": "other"}, "audience")]:
        status, _, _ = post(*bearer, "-H", f"x-aarm-user-token: {jwt(idp, bad)}")
        assert status == "403" and why in last_decision()["decision"]["reason"], last_decision()["decision"]
    forged = jwt(ed25519.Ed25519PrivateKey.generate(), claims)
    status, _, _ = post(*bearer, "-H", f"x-aarm-user-token: {forged}")
    assert status == "403" and "signature" in last_decision()["decision"]["reason"]

    # A human named only by a header: recorded, marked unverified, header kept from upstream.
    status, body, _ = post(*bearer, "-H", "x-aarm-user: bob@corp.example")
    assert status == "200", body
    identity = last_decision()["action"]["identity"]
    assert identity["human"] == "bob@corp.example" and identity["evidence"]["human"] == "unverified_header"
    assert "x-aarm-user" not in {k.lower() for k in upstream.seen[-1]["headers"]}

    # mTLS: a client certificate with a registered SPIFFE id names the agent.
    cert, key = client_cert(tmp_path, agents_ca_key, agents_ca, "spiffe://corp.example/agents/research/eu-1", "research")
    status, body, _ = post("--cert", str(cert), "--key", str(key))
    assert status == "200", body
    identity = last_decision()["action"]["identity"]
    assert identity["agent"] == "research-agent" and identity["evidence"]["agent"] == "mtls"
    # mTLS to the proxy listener itself (HTTPS_PROXY=https://...): the certificate presented to
    # the TLS listener names the agent of everything sent through it.
    status, body, _ = post("--proxy", f"https://127.0.0.1:{tls_port}", "--proxy-cacert", str(a.ca),
                           "--proxy-cert", str(cert), "--proxy-key", str(key))
    assert status == "200", body
    identity = last_decision()["action"]["identity"]
    assert identity["agent"] == "research-agent" and identity["evidence"]["agent"] == "mtls"
    # Without a certificate the TLS listener's client is known by its address only (unknown here).
    status, _, _ = post("--proxy", f"https://127.0.0.1:{tls_port}", "--proxy-cacert", str(a.ca))
    assert status == "403" and "127.0.0.1" in last_decision()["decision"]["reason"]
    # A certificate from a CA aarmor does not trust fails the handshake: nothing is sent.
    cert, key = client_cert(tmp_path, other_ca_key, other_ca, "spiffe://corp.example/agents/research/x", "rogue")
    before = len(upstream.seen)
    status, _, r = post("--cert", str(cert), "--key", str(key))
    assert status == "000" and r.returncode != 0
    assert len(upstream.seen) == before
