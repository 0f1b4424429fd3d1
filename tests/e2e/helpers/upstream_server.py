"""Run the e2e test upstream (HTTPS on 443, plain HTTP on 80) until stdin closes.

Used inside a network namespace, where an in-process thread of the test cannot listen.
Usage: upstream_server.py CERT KEY"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from conftest import Upstream  # noqa: E402

tls = Upstream(sys.argv[1], sys.argv[2], host="0.0.0.0", port=443)
plain = Upstream(None, None, host="0.0.0.0", tls=False, port=80)
print("ready", flush=True)
sys.stdin.read()
