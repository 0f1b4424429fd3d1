"""Building blocks of the scenario traces.

A trace is one agent session: a system prompt, the user's request, and the steps the model
proposes, each a tool call (and, once it ran, the tool's output fed back into the next turn).
Every step is labelled: `pass` (a benign step aarmor should let through) or `block` (the step
an injected instruction or a drifting agent takes, which aarmor should stop)."""


def step(name, arguments, result=None):
    return {"call": {"name": name, "arguments": arguments}, "result": result, "expect": "pass"}


def bad(s):
    return {**s, "expect": "block"}


def trace(trace_id, domain, kind, system, user, steps):
    assert kind in ("benign", "injected", "drift")
    if kind == "benign":
        assert all(s["expect"] == "pass" for s in steps), trace_id
    else:
        assert any(s["expect"] == "block" for s in steps), trace_id
    return {"id": trace_id, "domain": domain, "kind": kind, "system": system, "user": user, "steps": steps}
