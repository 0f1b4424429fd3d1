"""A real MCP server (the official `mcp` SDK, FastMCP over streamable HTTP) on loopback TLS.
Every tool invocation is appended to a log file, so tests can prove a denied call never ran.

Usage: mcp_server.py PORT CERT KEY CALL_LOG"""
import json
import sys

import uvicorn
from mcp.server.fastmcp import FastMCP

port, cert, key, call_log = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
server = FastMCP("files", host="127.0.0.1", port=port)


def record(tool, **args):
    with open(call_log, "a") as f:
        f.write(json.dumps({"tool": tool, "args": args}) + "\n")


@server.tool()
def read_file(path: str) -> str:
    """Read a file."""
    record("read_file", path=path)
    return f"contents of {path}"


@server.tool()
def delete_file(path: str) -> str:
    """Delete a file."""
    record("delete_file", path=path)
    return f"deleted {path}"


@server.tool()
def search(query: str, limit: int = 100) -> str:
    """Search files."""
    record("search", query=query, limit=limit)
    return f"{limit} results for {query}"


uvicorn.run(server.streamable_http_app(), host="127.0.0.1", port=port, ssl_certfile=cert, ssl_keyfile=key, log_level="warning")
