"""A loopback HTTPS server speaking the three LLM wire formats aarmor mediates: OpenAI Chat
Completions, OpenAI Responses and Anthropic Messages, streamed (SSE) or not. Every answer
proposes two tool calls, `get_weather` and `delete_repo`, after some text, so that tests can
allow one and deny the other. Requests are recorded in `seen`."""
import gzip
import http.server
import json
import ssl
import threading
import time

CALLS = [
    ("call_weather", "get_weather", {"city": "Oslo"}),
    ("call_delete", "delete_repo", {"repo": "prod"}),
]
TEXT = "Let me take care of that."


def _sse(wfile, data, event=None):
    chunk = b""
    if event:
        chunk += f"event: {event}\n".encode()
    chunk += f"data: {data if isinstance(data, str) else json.dumps(data)}\n\n".encode()
    wfile.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
    wfile.flush()


class LlmHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers.get("content-length", 0))) or b"{}")
        self.server.seen.append({"path": self.path, "body": body, "headers": dict(self.headers.items())})
        calls = CALLS
        if self.server.calls_override is not None:
            calls = self.server.calls_override
        stream = bool(body.get("stream"))
        if self.path.endswith("/chat/completions"):
            return self.chat(calls, stream)
        if self.path.endswith("/responses"):
            return self.openai_responses(calls, stream)
        if self.path.endswith("/messages"):
            return self.messages(calls, stream)
        self.send_error(404)

    def _json(self, obj):
        data = json.dumps(obj).encode()
        encoding = None
        if self.headers.get("x-test-force-gzip"):
            # A misbehaving upstream that compresses although identity was asked for.
            data, encoding = gzip.compress(data), "gzip"
        self.send_response(200)
        self.send_header("content-type", "application/json")
        if encoding:
            self.send_header("content-encoding", encoding)
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _start_stream(self):
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.send_header("transfer-encoding", "chunked")
        self.end_headers()

    def _end_stream(self):
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def _pause(self):
        time.sleep(self.server.delay)

    # OpenAI Chat Completions
    def chat(self, calls, stream):
        base = {"id": "chatcmpl-1", "created": 1700000000, "model": "gpt-test"}
        if not stream:
            return self._json({**base, "object": "chat.completion", "choices": [{
                "index": 0, "finish_reason": "tool_calls",
                "message": {"role": "assistant", "content": TEXT, "tool_calls": [
                    {"id": i, "type": "function", "function": {"name": n, "arguments": json.dumps(a)}} for i, n, a in calls]}}],
                "usage": {"prompt_tokens": 10, "completion_tokens": 20, "total_tokens": 30}})
        self._start_stream()
        chunk = lambda delta, finish=None: {**base, "object": "chat.completion.chunk", "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
        _sse(self.wfile, chunk({"role": "assistant", "content": ""}))
        for word in TEXT.split(" "):
            _sse(self.wfile, chunk({"content": word + " "}))
        for idx, (cid, name, args) in enumerate(calls):
            self._pause()
            text = json.dumps(args)
            _sse(self.wfile, chunk({"tool_calls": [{"index": idx, "id": cid, "type": "function", "function": {"name": name, "arguments": ""}}]}))
            for k in range(0, len(text), 5):
                _sse(self.wfile, chunk({"tool_calls": [{"index": idx, "function": {"arguments": text[k:k + 5]}}]}))
        _sse(self.wfile, chunk({}, "tool_calls" if calls else "stop"))
        _sse(self.wfile, {**base, "object": "chat.completion.chunk", "choices": [], "usage": {"prompt_tokens": 10, "completion_tokens": 20, "total_tokens": 30}})
        _sse(self.wfile, "[DONE]")
        self._end_stream()

    # OpenAI Responses
    def openai_responses(self, calls, stream):
        msg = {"id": "msg_1", "type": "message", "status": "completed", "role": "assistant",
               "content": [{"type": "output_text", "text": TEXT, "annotations": []}]}
        items = [msg] + [{"id": f"fc_{i}", "type": "function_call", "status": "completed", "call_id": i, "name": n,
                          "arguments": json.dumps(a)} for i, n, a in calls]
        response = {"id": "resp_1", "object": "response", "created_at": 1700000000, "status": "completed", "model": "gpt-test",
                    "output": items, "parallel_tool_calls": True, "tool_choice": "auto", "tools": [], "error": None,
                    "incomplete_details": None, "instructions": None, "metadata": {}, "temperature": 1.0, "top_p": 1.0,
                    "usage": {"input_tokens": 10, "output_tokens": 20, "total_tokens": 30,
                              "input_tokens_details": {"cached_tokens": 0}, "output_tokens_details": {"reasoning_tokens": 0}}}
        if not stream:
            return self._json(response)
        self._start_stream()
        seq = iter(range(10_000))
        ev = lambda t, **kw: _sse(self.wfile, {"type": t, "sequence_number": next(seq), **kw}, t)
        ev("response.created", response={**response, "status": "in_progress", "output": []})
        ev("response.output_item.added", output_index=0, item={**msg, "status": "in_progress", "content": []})
        ev("response.content_part.added", item_id="msg_1", output_index=0, content_index=0, part={"type": "output_text", "text": "", "annotations": []})
        for word in TEXT.split(" "):
            ev("response.output_text.delta", item_id="msg_1", output_index=0, content_index=0, delta=word + " ", logprobs=[])
        ev("response.output_text.done", item_id="msg_1", output_index=0, content_index=0, text=TEXT, logprobs=[])
        ev("response.content_part.done", item_id="msg_1", output_index=0, content_index=0, part=msg["content"][0])
        ev("response.output_item.done", output_index=0, item=msg)
        for k, item in enumerate(items[1:], start=1):
            self._pause()
            ev("response.output_item.added", output_index=k, item={**item, "status": "in_progress", "arguments": ""})
            text = item["arguments"]
            for j in range(0, len(text), 5):
                ev("response.function_call_arguments.delta", item_id=item["id"], output_index=k, delta=text[j:j + 5])
            ev("response.function_call_arguments.done", item_id=item["id"], output_index=k, arguments=text)
            ev("response.output_item.done", output_index=k, item=item)
        ev("response.completed", response=response)
        self._end_stream()

    # Anthropic Messages
    def messages(self, calls, stream):
        blocks = [{"type": "text", "text": TEXT}] + [{"type": "tool_use", "id": i, "name": n, "input": a} for i, n, a in calls]
        message = {"id": "msg_1", "type": "message", "role": "assistant", "model": "claude-test", "content": blocks,
                   "stop_reason": "tool_use" if calls else "end_turn", "stop_sequence": None,
                   "usage": {"input_tokens": 10, "output_tokens": 20}}
        if not stream:
            return self._json(message)
        self._start_stream()
        ev = lambda t, **kw: _sse(self.wfile, {"type": t, **kw}, t)
        ev("message_start", message={**message, "content": [], "stop_reason": None, "usage": {"input_tokens": 10, "output_tokens": 1}})
        ev("content_block_start", index=0, content_block={"type": "text", "text": ""})
        for word in TEXT.split(" "):
            ev("content_block_delta", index=0, delta={"type": "text_delta", "text": word + " "})
        ev("content_block_stop", index=0)
        for k, (cid, name, args) in enumerate(calls, start=1):
            self._pause()
            ev("content_block_start", index=k, content_block={"type": "tool_use", "id": cid, "name": name, "input": {}})
            ev("ping")
            text = json.dumps(args)
            for j in range(0, len(text), 5):
                ev("content_block_delta", index=k, delta={"type": "input_json_delta", "partial_json": text[j:j + 5]})
            ev("content_block_stop", index=k)
        ev("message_delta", delta={"stop_reason": message["stop_reason"], "stop_sequence": None}, usage={"output_tokens": 20})
        ev("message_stop")
        self._end_stream()


class LlmUpstream:
    def __init__(self, cert, key, delay=0.0):
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), LlmHandler)
        self.server.daemon_threads = True
        self.server.seen = []
        self.server.delay = delay
        self.server.calls_override = None
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(cert, key)
        self.server.socket = ctx.wrap_socket(self.server.socket, server_side=True)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def seen(self):
        return self.server.seen

    def close(self):
        self.server.shutdown()
        self.server.server_close()
