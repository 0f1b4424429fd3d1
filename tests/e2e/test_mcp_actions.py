"""MCP `tools/call` requests are actions: the official `mcp` SDK client talks through aarmor to a
real FastMCP server over streamable HTTP (TLS). Denied calls become JSON-RPC errors and never
run; modified arguments reach the server; `tools/list` results are observed."""
import asyncio
import json
import socket
import ssl
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import requests
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import McpError

from conftest import free_port

NAMES = """
[mediation]
mcp_servers = [{ host = "localhost", name = "files" }]
"""
POLICY = """package aarmor.policy

decisions contains d if {
    input.action.tool == "files.delete_file"
    d := {"decision": "deny", "class": "context_deny", "priority": 100, "rule": "no-deletes",
          "reason": "deleting files is not allowed"}
}

decisions contains d if {
    input.action.tool == "files.search"
    d := {"decision": "modify", "class": "context_allow", "priority": 100, "rule": "cap-search",
          "reason": "search results are capped", "modify": {"patch": {"limit": 5}}}
}
"""


@pytest.fixture(scope="module")
def mcp_server(pki, tmp_path_factory):
    d = tmp_path_factory.mktemp("mcp")
    log = d / "calls.jsonl"
    log.touch()
    port = free_port()
    cert, key = pki["leaf"]
    proc = subprocess.Popen([sys.executable, str(Path(__file__).parent / "helpers" / "mcp_server.py"), str(port), str(cert), str(key), str(log)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 30
    while time.time() < deadline:
        assert proc.poll() is None, proc.stderr.read()
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.1)
    else:
        raise AssertionError("MCP server did not start")
    yield {"url": f"https://localhost:{port}/mcp", "log": log}
    proc.terminate()
    proc.wait(timeout=10)


def calls_run(server):
    return [json.loads(l) for l in server["log"].read_text().splitlines()]


def run_session(a, server, actions):
    """Opens an MCP session through aarmor and runs `actions(session)`."""
    ctx = ssl.create_default_context(cafile=str(a.ca))

    async def main():
        async with httpx.AsyncClient(proxy=a.url, verify=ctx, timeout=httpx.Timeout(30, read=300)) as client:
            async with streamable_http_client(server["url"], http_client=client) as (read, write, _):
                async with ClientSession(read, write) as session:
                    await session.initialize()
                    return await actions(session)

    return asyncio.run(asyncio.wait_for(main(), 60))


def test_allowed_denied_and_modified_tool_calls(start_aarmor, mcp_server):
    a = start_aarmor(extra=NAMES, policy=POLICY)

    async def actions(session):
        tools = await session.list_tools()
        read = await session.call_tool("read_file", {"path": "/etc/motd"})
        with pytest.raises(McpError) as denied:
            await session.call_tool("delete_file", {"path": "/etc/passwd"})
        searched = await session.call_tool("search", {"query": "secrets", "limit": 1000})
        return tools, read, denied.value, searched

    tools, read, denied, searched = run_session(a, mcp_server, actions)
    assert {t.name for t in tools.tools} == {"read_file", "delete_file", "search"}
    assert read.content[0].text == "contents of /etc/motd"
    assert denied.error.code == -32001
    assert "deleting files is not allowed" in denied.error.message
    assert denied.error.data["rule"] == "no-deletes"
    assert searched.content[0].text == "5 results for secrets", "the modified limit reached the server"
    ran = calls_run(mcp_server)
    assert {"tool": "read_file", "args": {"path": "/etc/motd"}} in ran
    assert not any(c["tool"] == "delete_file" for c in ran), "a denied call never runs"
    assert {"tool": "search", "args": {"query": "secrets", "limit": 5}} in ran
    metrics = requests.get(f"http://127.0.0.1:{a.admin}/metrics", timeout=5).text
    assert 'aarmor_actions_total{decision="deny",protocol="mcp"} 1' in metrics
    assert 'aarmor_observations_total{kind="tool_declarations"}' in metrics


def test_meta_tool_is_resolved_before_policy(start_aarmor, mcp_server):
    """A wrapper `call_tool` naming `delete_file` is judged as `files.delete_file`."""
    a = start_aarmor(extra=NAMES, policy=POLICY)
    body = [{"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "call_tool", "arguments": {"name": "delete_file", "arguments": {"path": "/x"}}}},
            {"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": "read_file", "arguments": {"path": "/y"}}}]
    before = len(calls_run(mcp_server))
    r = requests.post(mcp_server["url"], json=body, proxies={"https": a.url}, verify=str(a.ca), timeout=10,
                      headers={"accept": "application/json, text/event-stream"})
    assert r.status_code == 200
    errors = {e["id"]: e["error"] for e in r.json()}
    assert errors[1]["code"] == -32001 and errors[1]["data"]["rule"] == "no-deletes"
    assert errors[2]["code"] == -32001 and "batch" in errors[2]["message"], "the whole batch is refused"
    assert len(calls_run(mcp_server)) == before, "nothing of a refused batch reaches the server"
