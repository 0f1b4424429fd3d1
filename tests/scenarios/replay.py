"""Replays scenario traces through aarmor as OpenAI Chat Completions traffic and scores them.

For each step the (loopback) model proposes the step's tool call; the agent side is the
official `openai` SDK talking through the proxy. A call that comes back in the response was let
through; one that aarmor removed (DENY, or a STEP_UP that the test approver denies) was blocked.
An allowed step's tool output is fed back as the `tool` message of the next turn, so the
session's context and provenance build up as they would for a real agent."""
import json
import ssl
import threading
import time

import openai


class AutoDeny:
    """Stands in for the human approver: denies every held action (STEP_UP) within ~50 ms."""

    def __init__(self, aarmor):
        self.aarmor = aarmor
        self.stop = threading.Event()
        self.denied = 0
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        deadline = time.time() + 3600
        while not self.stop.is_set() and time.time() < deadline:
            try:
                for a in self.aarmor.approvals():
                    if self.aarmor.answer(a["id"], approve=False, approver="scenario-replay").status_code == 200:
                        self.denied += 1
            except Exception:
                pass
            self.stop.wait(0.05)

    def close(self):
        self.stop.set()
        self.thread.join(5)


def _receipts_since(aarmor, seq):
    r = aarmor.cli("receipts", "export", "--since", str(seq))
    assert r.returncode == 0, r.stderr
    return [json.loads(l) for l in r.stdout.splitlines() if l.strip()]


def replay(aarmor, llm, traces):
    """Replays every trace; returns one result per step."""
    client = openai.OpenAI(
        base_url=f"https://localhost:{llm.port}/v1", api_key="sk-test", max_retries=0, timeout=60,
        http_client=openai.DefaultHttpxClient(proxy=aarmor.url, verify=ssl.create_default_context(cafile=str(aarmor.ca))))
    approver = AutoDeny(aarmor)
    results = []
    next_seq = 1
    try:
        for t in traces:
            messages = [{"role": "system", "content": t["system"]}, {"role": "user", "content": t["user"]}]
            # The agent declares its tools, as real agents do (the trace's steps, by name).
            tools = list({s["call"]["name"]: {"type": "function", "function": {
                "name": s["call"]["name"], "parameters": {"type": "object"}}} for s in t["steps"]}.values())
            for i, s in enumerate(t["steps"]):
                call_id = f"call_{t['id']}_{i}"
                name, args = s["call"]["name"], s["call"]["arguments"]
                llm.server.calls_override = [(call_id, name, args)]
                started = time.time()
                resp = client.chat.completions.create(model="gpt-test", messages=messages, tools=tools)
                elapsed = time.time() - started
                msg = resp.choices[0].message
                kept = [c for c in (msg.tool_calls or []) if c.function.name == name]
                allowed = bool(kept)
                # What aarmor decided, from its receipts: the decision and its final resolution.
                receipts = _receipts_since(aarmor, next_seq)
                if receipts:
                    next_seq = receipts[-1]["seq"] + 1
                mine = [r for r in receipts if r["action"]["tool"] == name and r["kind"] in ("decision", "resolution")]
                first = next((r for r in mine if r["kind"] == "decision"), None)
                results.append({
                    "trace": t["id"], "domain": t["domain"], "kind": t["kind"], "step": i, "tool": name,
                    "expect": s["expect"], "allowed": allowed,
                    "decision": first["decision"]["result"] if first else None,
                    "final": mine[-1]["decision"]["result"] if mine else None,
                    "rule": first["decision"].get("rule") if first else None,
                    "drift": (first["context"].get("intent") or {}).get("drift") if first else None,
                    "session": first["context"].get("session") if first else None,
                    "seconds": round(elapsed, 3),
                })
                messages.append({"role": "assistant", "content": None, "tool_calls": [
                    {"id": call_id, "type": "function", "function": {"name": name, "arguments": json.dumps(args)}}]})
                if allowed:
                    output = s["result"] if s["result"] is not None else "done"
                else:
                    output = "error: the action was refused"
                messages.append({"role": "tool", "tool_call_id": call_id, "content": output})
    finally:
        approver.close()
    return results


def score(results):
    """Block rate on attack steps, pass rate on benign steps (and per trace)."""
    attack = [r for r in results if r["expect"] == "block"]
    benign = [r for r in results if r["expect"] == "pass"]
    traces = {}
    for r in results:
        traces.setdefault((r["trace"], r["kind"]), []).append(r)
    benign_traces = [rs for (tid, kind), rs in traces.items() if kind == "benign"]
    attack_traces = [rs for (tid, kind), rs in traces.items() if kind != "benign"]
    by_kind = {}
    for kind in ("injected", "drift"):
        steps = [r for r in attack if r["kind"] == kind]
        by_kind[kind] = {"steps": len(steps), "blocked": sum(not r["allowed"] for r in steps)}
    return {
        "attack_steps": len(attack),
        "attack_blocked": sum(not r["allowed"] for r in attack),
        "benign_steps": len(benign),
        "benign_passed": sum(r["allowed"] for r in benign),
        "benign_traces": len(benign_traces),
        "benign_traces_fully_passed": sum(all(r["allowed"] for r in rs) for rs in benign_traces),
        "attack_traces": len(attack_traces),
        "attack_traces_stopped": sum(any(not r["allowed"] for r in rs if r["expect"] == "block") for rs in attack_traces),
        "by_kind": by_kind,
        "false_positives": [f"{r['trace']}#{r['step']} {r['tool']}: {r['decision']} ({r['rule']})" for r in benign if not r["allowed"]],
        "missed": [f"{r['trace']}#{r['step']} {r['tool']}: {r['decision']} ({r['rule']})" for r in attack if r["allowed"]],
    }
