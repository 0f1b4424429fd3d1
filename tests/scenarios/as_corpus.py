"""The scenario traces as a replay corpus for `aarmor replay`: one JSON line per trace in the
OpenAI Chat Completions shape (every step a tool call answered by its recorded output; steps
labelled `benign`, or `harmful` where the trace expects aarmor to block them).

    python3 tests/scenarios/as_corpus.py > scenarios.jsonl
"""
import json

from catalog import TRACES


def conversation(trace):
    messages = [{"role": "system", "content": trace["system"]}, {"role": "user", "content": trace["user"]}]
    labels, tools = {}, {}
    for i, s in enumerate(trace["steps"]):
        call_id = f"call_{i}"
        name, args = s["call"]["name"], s["call"]["arguments"]
        tools.setdefault(name, {"type": "function", "function": {"name": name, "parameters": {"type": "object"}}})
        messages.append({"role": "assistant", "content": None, "tool_calls": [
            {"id": call_id, "type": "function", "function": {"name": name, "arguments": json.dumps(args)}}]})
        messages.append({"role": "tool", "tool_call_id": call_id, "content": s["result"] if s["result"] is not None else "done"})
        labels[call_id] = "harmful" if s["expect"] == "block" else "benign"
    return {"id": trace["id"], "domain": trace["domain"], "style": "terse",
            "kind": "benign" if trace["kind"] == "benign" else "injected",
            "tools": list(tools.values()), "messages": messages, "labels": labels}


def lines():
    return [json.dumps(conversation(t)) for t in TRACES]


if __name__ == "__main__":
    print("\n".join(lines()))
