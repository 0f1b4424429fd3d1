"""An example service that accepts only requests carrying a credential aarmor minted for exactly
that request.

aarmor signs, for each allowed action, a short-lived JWT (EdDSA, Ed25519) whose claims name the
action: the HTTP method, host, path and the SHA-256 of the body it sent. This service checks the
signature against aarmor's JWKS, the issuer, audience and lifetime, and that the request it
received is the one the token was minted for; it refuses a token seen before (replay).

`verify()` is the reusable part; `main()` wraps it in a small HTTP(S) server that answers 200 with
the claims when the check passes and 401 with the reason when it does not.
"""
import argparse
import hashlib
import json
import socket
import ssl
import sys
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jwt

MAX_LIFETIME_S = 60  # aarmor mints tokens valid for at most a minute
REFETCH_INTERVAL_S = 10  # an unknown kid refetches the JWKS at most this often
REQUIRED_CLAIMS = ["iss", "aud", "sub", "iat", "nbf", "exp", "jti", "agent", "session", "tool",
                   "operation", "method", "host", "path", "params_hash", "body_sha256",
                   "receipt_id", "credential", "scope"]


class Refused(Exception):
    """The token does not authorize this request; `reason` says why."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class UnknownKey(Refused):
    """The token names a kid the JWKS does not hold (the JWKS may be worth refetching)."""


class ReplayCache:
    """The jti of accepted tokens, each kept until its token expires; at most `limit` of them."""

    def __init__(self, limit: int = 100_000):
        self._seen: dict[str, float] = {}  # jti -> time after which the token is refused anyway
        self._limit = limit
        self._lock = threading.Lock()

    def admit(self, jti: str, until: float, now: float) -> None:
        with self._lock:
            if len(self._seen) >= self._limit:
                self._seen = {j: t for j, t in self._seen.items() if t >= now}
            if jti in self._seen:
                raise Refused(f"replayed token: jti {jti} was already accepted")
            if len(self._seen) >= self._limit:  # full of live tokens: fail closed
                raise Refused("too many live tokens to track replays")
            self._seen[jti] = until


def bare_host(host: str) -> str:
    """`host`, lowercase, without a port, IPv6 brackets or a trailing dot."""
    host = host.strip().lower()
    if host.startswith("["):
        host = host[1:host.find("]")]
    elif host.count(":") == 1:
        host = host.split(":")[0]
    return host.rstrip(".")


def verify(token: str, jwks: dict, *, audience: str, method: str, host: str, path: str,
           body: bytes, issuer: str = "aarmor", now: float | None = None, leeway: int = 0,
           replay: ReplayCache | None = None) -> dict:
    """The claims of `token` when aarmor minted it for this request; raises `Refused` otherwise."""
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError as e:
        raise Refused(f"malformed token: {e}") from None
    if header.get("alg") != "EdDSA":
        raise Refused(f"algorithm {header.get('alg')!r} is not EdDSA")
    kid = header.get("kid")
    if not isinstance(kid, str) or not kid:
        raise Refused("token names no kid")
    jwk = next((k for k in jwks.get("keys", []) if k.get("kid") == kid), None)
    if jwk is None:
        raise UnknownKey(f"unknown kid {kid}")
    if jwk.get("kty") != "OKP" or jwk.get("crv") != "Ed25519":
        raise Refused(f"key {kid} is not an Ed25519 key")
    try:
        key = jwt.PyJWK(jwk, algorithm="EdDSA").key  # the x coordinate as an Ed25519 public key
        # Times are checked below, against `now`; PyJWT checks the signature, iss, aud, presence.
        claims = jwt.decode(token, key, algorithms=["EdDSA"], audience=audience, issuer=issuer,
                            options={"require": REQUIRED_CLAIMS, "strict_aud": True,
                                     "verify_exp": False, "verify_nbf": False,
                                     "verify_iat": False})
    except (jwt.PyJWTError, ValueError) as e:
        raise Refused(f"invalid token: {e}") from None
    now = time.time() if now is None else now
    iat, nbf, exp = claims["iat"], claims["nbf"], claims["exp"]
    if not all(type(t) is int for t in (iat, nbf, exp)):
        raise Refused("iat, nbf and exp must be integers")
    if exp <= now - leeway:
        raise Refused("token expired")
    if nbf > now + leeway:
        raise Refused("token not yet valid")
    if exp - iat > MAX_LIFETIME_S:
        raise Refused(f"token lives {exp - iat} s, more than {MAX_LIFETIME_S}")
    if str(claims["method"]).upper() != method.upper():
        raise Refused(f"token is for method {claims['method']}, not {method}")
    if bare_host(str(claims["host"])) != bare_host(host):
        raise Refused(f"token is for host {claims['host']}, not {bare_host(host)}")
    if claims["path"] != path:
        raise Refused(f"token is for path {claims['path']}, not {path}")
    if claims["body_sha256"] != "sha256:" + hashlib.sha256(body).hexdigest():
        raise Refused("token is for another body (body_sha256 differs)")
    if replay is not None:  # last, so a refused token does not use up its jti
        replay.admit(str(claims["jti"]), exp + leeway, now)
    return claims


class Keys:
    """aarmor's JWKS (the keys of every URL, one per replica of a cluster): fetched at start,
    and again when a token names an unknown kid."""

    def __init__(self, urls: list[str]):
        self.urls = urls
        self._lock = threading.Lock()
        self.jwks = self._fetch()
        self._fetched = time.monotonic()

    def _fetch(self) -> dict:
        keys = []
        for url in self.urls:
            with urllib.request.urlopen(url, timeout=10) as r:
                keys += json.load(r)["keys"]
        return {"keys": keys}

    def refresh(self) -> bool:
        """Refetches the JWKS unless it was fetched recently; whether it did."""
        with self._lock:
            if time.monotonic() - self._fetched < REFETCH_INTERVAL_S:
                return False
            self._fetched = time.monotonic()
            try:
                self.jwks = self._fetch()
            except (OSError, ValueError, KeyError) as e:  # keep the keys we have
                print(f"cannot refetch the JWKS: {e!r}", file=sys.stderr, flush=True)
                return False
            return True


class Server(ThreadingHTTPServer):
    address_family = socket.AF_INET  # AF_INET6 for an IPv6 listen address (set by main())


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    keys = audience = issuer = replay = None  # set by main()

    def __getattr__(self, name):
        # http.server looks up `do_<METHOD>`: serve every method the same way.
        if name.startswith("do_"):
            return self.serve
        raise AttributeError(name)

    def serve(self):
        # aarmor sends the body it hashed with a Content-Length (never chunked).
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        try:
            claims = self.check(body)
        except Refused as e:
            return self.answer(401, {"ok": False, "error": e.reason})
        self.answer(200, {"ok": True, "claims": claims, "method": self.command, "path": self.path})

    def check(self, body: bytes) -> dict:
        scheme, _, token = self.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Refused("no bearer token")
        args = dict(audience=self.audience, issuer=self.issuer, method=self.command,
                    host=self.headers.get("Host", ""), path=self.path, body=body,
                    replay=self.replay)
        try:
            return verify(token.strip(), self.keys.jwks, **args)
        except UnknownKey:
            if not self.keys.refresh():  # the key may have been added since: fetch once more
                raise
            return verify(token.strip(), self.keys.jwks, **args)

    def answer(self, status: int, doc: dict):
        data = json.dumps(doc).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        if status == 401:
            self.send_header("WWW-Authenticate", 'Bearer error="invalid_token"')
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)


def main():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--listen", required=True, metavar="HOST:PORT", help="address to serve on")
    p.add_argument("--jwks-url", required=True, metavar="URL", action="append",
                   help="aarmor's JWKS, e.g. http://127.0.0.1:9090/.well-known/jwks.json "
                   "(repeat it for each replica of a cluster)")
    p.add_argument("--audience", required=True, help="the aud the tokens must carry")
    p.add_argument("--issuer", default="aarmor", help="the iss they must carry (default aarmor)")
    p.add_argument("--tls-cert", metavar="PEM", help="serve HTTPS with this certificate chain")
    p.add_argument("--tls-key", metavar="PEM", help="and this private key")
    p.add_argument("--allow-replay", action="store_true",
                   help="accept a token more than once (by default a jti is accepted once)")
    a = p.parse_args()
    if bool(a.tls_cert) != bool(a.tls_key):
        p.error("--tls-cert and --tls-key go together")
    host, _, port = a.listen.rpartition(":")
    try:
        keys = Keys(a.jwks_url)
    except (OSError, ValueError, KeyError) as e:
        sys.exit(f"cannot fetch the JWKS from {' '.join(a.jwks_url)}: {e!r}")

    Handler.keys, Handler.audience, Handler.issuer = keys, a.audience, a.issuer
    Handler.replay = None if a.allow_replay else ReplayCache()
    Server.address_family = socket.AF_INET6 if ":" in host else socket.AF_INET
    server = Server((host.strip("[]"), int(port)), Handler)
    if a.tls_cert:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(a.tls_cert, a.tls_key)
        # The handshake then runs in the request's thread, not in the accepting one.
        server.socket = ctx.wrap_socket(server.socket, server_side=True,
                                        do_handshake_on_connect=False)
    print(f"listening on {host}:{server.server_address[1]}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
