"""LLM responses that propose tool calls: each call is an action. Real SDKs (openai, anthropic)
talk through aarmor to a loopback upstream speaking each wire format; a rule denies
`delete_*`. The SDKs must parse what they get, and never see a byte of the denied call."""
import json
import re
import ssl

import anthropic
import httpx
import openai
import pytest

from llm_upstream import LlmUpstream

DENY_DELETES = """package aarmor.policy

decisions contains d if {
    startswith(input.action.tool, "delete_")
    d := {"decision": "deny", "class": "context_deny", "priority": 100, "rule": "no-repo-deletes",
          "reason": "deleting repositories is not allowed"}
}
"""


def rego(decision_body):
    """A one-rule policy that applies to every tool call (not to the LLM request itself, which
    is an action too: `llm.<provider>` / `request`)."""
    return ("package aarmor.policy\n\ndecisions contains d if {\n  input.action.operation != \"request\"\n"
            + decision_body + "\n}\n")



@pytest.fixture(scope="module")
def llm(pki):
    u = LlmUpstream(*pki["leaf"])
    yield u
    u.close()


@pytest.fixture
def mediated(start_aarmor):
    return start_aarmor(policy=DENY_DELETES)


def oai(a, llm):
    http_client = openai.DefaultHttpxClient(proxy=a.url, verify=ssl.create_default_context(cafile=str(a.ca)))
    return openai.OpenAI(base_url=f"https://localhost:{llm.port}/v1", api_key="sk-test", http_client=http_client, max_retries=0)


def claude(a, llm):
    http_client = anthropic.DefaultHttpxClient(proxy=a.url, verify=ssl.create_default_context(cafile=str(a.ca)))
    return anthropic.Anthropic(base_url=f"https://localhost:{llm.port}", api_key="sk-ant-test", http_client=http_client, max_retries=0)


MESSAGES = [{"role": "system", "content": "You are a repo bot."}, {"role": "user", "content": "Check the weather and clean up prod"}]
TOOLS = [{"type": "function", "function": {"name": n, "parameters": {"type": "object"}}} for n in ("get_weather", "delete_repo")]


def metric(a, name, **labels):
    text = httpx.get(f"http://127.0.0.1:{a.admin}/metrics").text
    want = ",".join(f'{k}="{v}"' for k, v in labels.items())
    total = 0.0
    for line in text.splitlines():
        if line.startswith(f"aarmor_{name}") and all(f'{k}="{v}"' in line for k, v in labels.items()):
            total += float(line.rsplit(" ", 1)[1])
    return total


def test_chat_completion_denied_call_is_withheld(mediated, llm):
    r = oai(mediated, llm).chat.completions.create(model="gpt-test", messages=MESSAGES, tools=TOOLS)
    msg = r.choices[0].message
    assert [tc.function.name for tc in msg.tool_calls] == ["get_weather"]
    assert json.loads(msg.tool_calls[0].function.arguments) == {"city": "Oslo"}
    assert "delete_repo" in msg.content and "deleting repositories is not allowed" in msg.content
    assert "no-repo-deletes" in msg.content
    assert r.choices[0].finish_reason == "tool_calls"
    # The upstream was asked for an uncompressed body aarmor can read.
    assert llm.seen[-1]["headers"].get("accept-encoding", llm.seen[-1]["headers"].get("Accept-Encoding")) == "identity"
    assert metric(mediated, "actions_total", protocol="openai_chat", decision="deny") >= 1
    assert metric(mediated, "observations_total", kind="user_message") >= 1


def test_chat_completion_stream_through_sdk_accumulator(mediated, llm):
    client = oai(mediated, llm)
    raw_chunks = []
    with client.chat.completions.stream(model="gpt-test", messages=MESSAGES, tools=[
        {"type": "function", "function": {"name": n, "parameters": {"type": "object", "properties": {}}}} for n in ("get_weather", "delete_repo")
    ]) as stream:
        for event in stream:
            if event.type == "chunk":
                raw_chunks.append(event.chunk.model_dump_json())
        final = stream.get_final_completion()
    msg = final.choices[0].message
    assert [tc.function.name for tc in msg.tool_calls] == ["get_weather"]
    assert json.loads(msg.tool_calls[0].function.arguments) == {"city": "Oslo"}
    assert msg.content.startswith("Let me take care of that.")
    assert "deleting repositories is not allowed" in msg.content
    assert final.choices[0].finish_reason == "tool_calls"
    assert not any("delete_repo\"" in c and "tool_calls\":[{" in c for c in raw_chunks), "no chunk carries the denied call"
    assert final.usage.total_tokens == 30


def test_chat_stream_all_calls_denied_finishes_with_stop(start_aarmor, llm):
    a = start_aarmor(policy=rego('  d := {"decision": "deny", "class": "context_deny", "rule": "deny-all", "reason": "read-only session"}'))
    chunks = list(oai(a, llm).chat.completions.create(model="gpt-test", messages=MESSAGES, tools=TOOLS, stream=True))
    finish = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    assert finish == ["stop"]
    assert not any(c.choices and c.choices[0].delta.tool_calls for c in chunks)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text.count("read-only session") == 2


def test_chat_stream_modified_arguments(start_aarmor, llm):
    a = start_aarmor(policy=rego('  input.action.tool == "get_weather"\n  d := {"decision": "modify", "class": "context_allow", "rule": "bergen-only", "reason": "Bergen only", "modify": {"patch": {"city": "Bergen"}}}'))
    chunks = list(oai(a, llm).chat.completions.create(model="gpt-test", messages=MESSAGES, tools=TOOLS, stream=True))
    args = {}
    for c in chunks:
        for tc in (c.choices[0].delta.tool_calls or []) if c.choices else []:
            args[tc.index] = args.get(tc.index, "") + (tc.function.arguments or "")
    assert json.loads(args[0]) == {"city": "Bergen"}
    assert json.loads(args[1]) == {"repo": "prod"}


def test_responses_api_non_streamed_and_streamed(mediated, llm):
    client = oai(mediated, llm)
    r = client.responses.create(model="gpt-test", input="Check the weather and clean up prod")
    kinds = [(o.type, getattr(o, "name", None)) for o in r.output]
    assert kinds == [("message", None), ("function_call", "get_weather"), ("message", None)]
    assert "deleting repositories is not allowed" in r.output[2].content[0].text
    with client.responses.stream(model="gpt-test", input="Check the weather and clean up prod") as stream:
        types = [e.type for e in stream]
        final = stream.get_final_response()
    assert [(o.type, getattr(o, "name", None)) for o in final.output] == kinds
    assert json.loads(final.output[1].arguments) == {"city": "Oslo"}
    assert "deleting repositories is not allowed" in final.output[2].content[0].text
    assert types[0] == "response.created" and types[-1] == "response.completed"
    assert final.output_text.startswith("Let me take care of that.")


def test_anthropic_messages_non_streamed_and_streamed(mediated, llm):
    client = claude(mediated, llm)
    m = client.messages.create(model="claude-test", max_tokens=100, messages=[{"role": "user", "content": "clean up prod"}],
                               tools=[{"name": "delete_repo", "input_schema": {"type": "object"}}])
    assert [b.type for b in m.content] == ["text", "tool_use", "text"]
    assert m.content[1].name == "get_weather" and m.content[1].input == {"city": "Oslo"}
    assert "deleting repositories is not allowed" in m.content[2].text
    assert m.stop_reason == "tool_use"
    with client.messages.stream(model="claude-test", max_tokens=100, messages=[{"role": "user", "content": "clean up prod"}]) as stream:
        final = stream.get_final_message()
    assert [b.type for b in final.content] == ["text", "tool_use", "text"]
    assert final.content[1].input == {"city": "Oslo"}
    assert "deleting repositories is not allowed" in final.content[2].text
    assert final.stop_reason == "tool_use"


def test_anthropic_only_call_denied_ends_turn(start_aarmor, llm):
    a = start_aarmor(policy=rego('  d := {"decision": "deny", "class": "context_deny", "rule": "deny-all", "reason": "no tools today"}'))
    with claude(a, llm).messages.stream(model="claude-test", max_tokens=100, messages=[{"role": "user", "content": "x"}]) as stream:
        final = stream.get_final_message()
    assert [b.type for b in final.content] == ["text", "text", "text"]
    assert final.stop_reason == "end_turn"


def test_step_up_approved_call_proceeds_and_unanswered_one_is_denied(start_aarmor, llm):
    """Both calls need approval; the test approves get_weather through the admin API and leaves
    delete_repo alone, which is denied at its timeout. Each leaves two receipts."""
    import threading
    import time as _time

    a = start_aarmor(policy=rego('  d := {"decision": "step_up", "class": "context_allow", "priority": 10, "rule": "approve-tools", '
                                '"reason": "tool calls need approval", "approvers": ["oncall"], "timeout": 1.5}'))
    approved = []

    def approver():
        deadline = _time.time() + 20
        while _time.time() < deadline and not approved:
            for item in a.approvals():
                if item["action"]["tool"] == "get_weather":
                    assert item["action"]["parameters"] == {"city": "Oslo"}, "the approver sees the full action"
                    assert a.answer(item["id"], approve=True, approver="alice").status_code == 200
                    approved.append(item["id"])
            _time.sleep(0.05)

    t = threading.Thread(target=approver, daemon=True)
    t.start()
    with oai(a, llm).chat.completions.stream(model="gpt-test", messages=MESSAGES, tools=[
        {"type": "function", "function": {"name": n, "parameters": {"type": "object", "properties": {}}}} for n in ("get_weather", "delete_repo")
    ]) as stream:
        final = stream.get_final_completion()
    t.join(5)
    msg = final.choices[0].message
    assert approved, "the approval was answered"
    assert [tc.function.name for tc in msg.tool_calls] == ["get_weather"], "released once approved"
    assert re.search(r"not given within \d+ s", msg.content), msg.content
    receipts = a.receipts()
    kinds = [(r["action"]["tool"], r["kind"], r["decision"]["result"]) for r in receipts]
    assert ("get_weather", "decision", "STEP_UP") in kinds and ("get_weather", "resolution", "ALLOW") in kinds
    assert ("delete_repo", "decision", "STEP_UP") in kinds and ("delete_repo", "resolution", "DENY") in kinds
    approval = next(r["approval"] for r in receipts if r["action"]["tool"] == "get_weather" and r["kind"] == "resolution")
    assert approval["approver"] == "alice" and approval["status"] == "approved"


def test_llm_errors_pass_through(mediated, llm):
    with pytest.raises(openai.NotFoundError):
        oai(mediated, llm).post("/unknown/chat/completion", cast_to=object, body={})


def test_compressed_llm_response_is_refused_not_passed_unseen(mediated, llm):
    client = oai(mediated, llm)
    with pytest.raises(openai.APIStatusError) as err:
        client.chat.completions.create(model="gpt-test", messages=MESSAGES, tools=TOOLS, extra_headers={"x-test-force-gzip": "1"})
    assert err.value.status_code == 502
    assert "uninspectable-response" in err.value.response.text
