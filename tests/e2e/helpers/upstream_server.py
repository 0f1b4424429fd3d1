"""Run the e2e test upstream until stdin closes: HTTPS on 443 and 8443, plain HTTP on 80 and
8000, and, when a record directory is given, a raw TCP listener on 5432 and UDP listeners on 53
and 9999 that write what reaches them to files there (tcp.log, udp.log).

Used inside a network namespace, where an in-process thread of the test cannot listen.
Usage: upstream_server.py CERT KEY [RECORD_DIR]"""
import socket
import sys
import threading
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from conftest import Upstream  # noqa: E402

tls = Upstream(sys.argv[1], sys.argv[2], host="0.0.0.0", port=443)
tls_alt = Upstream(sys.argv[1], sys.argv[2], host="0.0.0.0", port=8443)
plain = Upstream(None, None, host="0.0.0.0", tls=False, port=80)
plain_alt = Upstream(None, None, host="0.0.0.0", tls=False, port=8000)

if len(sys.argv) > 3:
    record = Path(sys.argv[3])

    def tcp_sink():
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("0.0.0.0", 5432))
        s.listen(8)
        while True:
            c, addr = s.accept()
            c.settimeout(5)
            try:
                data = c.recv(4096)
            except OSError:
                data = b""
            with open(record / "tcp.log", "ab") as f:
                f.write(f"{addr[0]} {data!r}\n".encode())
            c.close()

    def udp_sink(port):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind(("0.0.0.0", port))
        while True:
            data, addr = s.recvfrom(4096)
            with open(record / "udp.log", "ab") as f:
                f.write(f"{port} {addr[0]} {data!r}\n".encode())

    threading.Thread(target=tcp_sink, daemon=True).start()
    for port in (53, 9999):
        threading.Thread(target=udp_sink, args=(port,), daemon=True).start()

print("ready", flush=True)
sys.stdin.read()
