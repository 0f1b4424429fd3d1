"""A real OAuth2 token endpoint for the end-to-end tests: the client-credentials grant
(RFC 6749, 4.4) served by Authlib's Flask integration, one client authenticated with HTTP Basic
(client_secret_basic), plain HTTP on loopback.

    POST /oauth/token        grant_type=client_credentials -> {"access_token", "token_type":
                             "Bearer", "expires_in"}; a wrong client or secret -> 401
                             invalid_client
    GET  /check              200 when `Authorization: Bearer <token>` is a token issued here and
                             not yet expired, else 401 (the endpoint as a protected resource)
    GET  /introspect-count   {"issued": N}: how many tokens were issued

Usage: oauth2_server.py --port N --client-id ID --client-secret SECRET [--expires-in 3600]
Prints "listening on 127.0.0.1:N" once it accepts connections."""
import argparse
import os
import secrets
import threading
import time

# Authlib refuses plain-HTTP token requests unless told otherwise; this server is loopback-only.
os.environ["AUTHLIB_INSECURE_TRANSPORT"] = "1"

from authlib.integrations.flask_oauth2 import AuthorizationServer  # noqa: E402
from authlib.oauth2.rfc6749 import ClientMixin  # noqa: E402
from authlib.oauth2.rfc6749.grants import ClientCredentialsGrant  # noqa: E402
from flask import Flask, jsonify, request  # noqa: E402
from werkzeug.serving import make_server  # noqa: E402


class Client(ClientMixin):
    """The one registered client: confidential, client-credentials grant only."""

    def __init__(self, client_id: str, secret: str):
        self.client_id, self.secret = client_id, secret

    def get_client_id(self):
        return self.client_id

    def check_client_secret(self, client_secret):
        return secrets.compare_digest(client_secret.encode(), self.secret.encode())

    def check_endpoint_auth_method(self, method, endpoint):
        return endpoint == "token" and method == "client_secret_basic"

    def check_grant_type(self, grant_type):
        return grant_type == "client_credentials"

    def get_allowed_scope(self, scope):
        return scope or ""


def create_app(client: Client, expires_in: int) -> Flask:
    app = Flask(__name__)
    app.config["OAUTH2_ACCESS_TOKEN_GENERATOR"] = lambda **_: secrets.token_urlsafe(32)
    app.config["OAUTH2_TOKEN_EXPIRES_IN"] = {"client_credentials": expires_in}
    issued: dict[str, float] = {}  # access token -> when it expires
    lock = threading.Lock()

    def save_token(token, req):
        with lock:
            issued[token["access_token"]] = time.time() + token["expires_in"]

    server = AuthorizationServer(
        app,
        query_client=lambda cid: client if cid == client.client_id else None,
        save_token=save_token,
    )
    server.register_grant(ClientCredentialsGrant)

    @app.post("/oauth/token")
    def token():
        return server.create_token_response()

    @app.get("/check")
    def check():
        scheme, _, value = request.headers.get("Authorization", "").partition(" ")
        with lock:
            expires = issued.get(value.strip()) if scheme.lower() == "bearer" else None
        if expires is None or expires <= time.time():
            return jsonify(error="invalid_token"), 401, {"WWW-Authenticate": "Bearer"}
        return jsonify(ok=True)

    @app.get("/introspect-count")
    def introspect_count():
        with lock:
            return jsonify(issued=len(issued))

    return app


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--client-id", required=True)
    p.add_argument("--client-secret", required=True)
    p.add_argument("--expires-in", type=int, default=3600, help="token lifetime, seconds")
    a = p.parse_args()
    app = create_app(Client(a.client_id, a.client_secret), a.expires_in)
    httpd = make_server("127.0.0.1", a.port, app, threaded=True)
    print(f"listening on 127.0.0.1:{httpd.server_port}", flush=True)
    httpd.serve_forever()


if __name__ == "__main__":
    main()
