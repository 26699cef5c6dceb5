"""Record raw chat-completion responses of the local OpenAI-compatible servers as test fixtures.

Each scenario sends one small request (tools bound as a real agent would, or a schema
asked for) and stores the request and the server's complete JSON response under
tests/data/real_model_outputs/<name>.json, where tests/test_model_io.py replays them.
Usage: python bench/capture_real_outputs.py [scenario ...]  (OPSGRAPH_SMALL_BASE_URL /
OPSGRAPH_LARGE_BASE_URL pick the servers; defaults are the loopback ports 8089 / 8088).
"""

from __future__ import annotations

import json
import os
import sys
import time
import urllib.request
from pathlib import Path

OUT = Path(__file__).resolve().parents[1] / "tests" / "data" / "real_model_outputs"
SERVERS = {"small": os.environ.get("OPSGRAPH_SMALL_BASE_URL", "http://127.0.0.1:8089/v1"),
           "large": os.environ.get("OPSGRAPH_LARGE_BASE_URL", "http://127.0.0.1:8088/v1")}


def _tool(name: str, description: str, properties: dict, required: list[str]) -> dict:
    return {"type": "function", "function": {"name": name, "description": description, "parameters": {
        "type": "object", "properties": properties, "required": required}}}


GET_SHIPMENT = _tool("get_shipment", "Look up an inbound shipment by id.",
                     {"shipment_id": {"type": "string", "description": "id like SH-0001"}}, ["shipment_id"])
REFUND = _tool("issue_refund", "Refund part of an invoice to a customer.",
               {"invoice_id": {"type": "string"}, "amount_usd": {"type": "number"}, "reason": {"type": "string"}},
               ["invoice_id", "amount_usd", "reason"])
CREATE_PO = _tool("create_purchase_order", "Raise a purchase order with a supplier.",
                  {"sku": {"type": "string"}, "quantity": {"type": "integer", "minimum": 1},
                   "supplier_id": {"type": "string", "description": "id like SUP-003"}},
                  ["sku", "quantity", "supplier_id"])
ROUTE_SCHEMA = {"type": "object", "properties": {
    "next": {"type": "string", "enum": ["logistics", "inventory", "procurement", "customer_comms", "FINISH"]},
    "reason": {"type": "string"}}, "required": ["next", "reason"]}

SCENARIOS = {
    "fenced_json": ("small", {"messages": [
        {"role": "system", "content": "You are the logistics agent. Use the tools."},
        {"role": "user", "content": "Inbound shipment SH-0002 is delayed by 4 days. Look it up."}],
        "tools": [GET_SHIPMENT]}),
    "prose_only": ("large", {"messages": [
        {"role": "system", "content": "You are the logistics agent. Explain in one sentence what you will do, "
                                      "then give the tool call as a JSON object {\"name\":..., \"arguments\":...}.\n"
                                      "Tools: get_shipment(shipment_id: string)"},
        {"role": "user", "content": "Shipment SH-0001 is late by 5 days."}]}),
    "list_of_calls": ("large", {"messages": [
        {"role": "system", "content": "You are the logistics agent. Answer only with a JSON list of tool calls, "
                                      "each {\"name\":..., \"arguments\":...}."},
        {"role": "user", "content": "Look up shipments SH-0001 and SH-0004."}], "tools": [GET_SHIPMENT]}),
    "empty_content": ("small", {"messages": [
        {"role": "system", "content": "Answer with a JSON object."},
        {"role": "user", "content": "Which team acts next for a delayed shipment?"}], "stop": ["{", "`"],
        "max_tokens": 40}),
    "structured_missing_fields": ("small", {"messages": [
        {"role": "system", "content": "You are the supervisor. Reply in JSON with the key \"next\" only."},
        {"role": "user", "content": "Inbound shipment SH-0002 is delayed by 4 days. Who acts next: "
                                    "logistics, inventory, procurement, customer_comms or FINISH?"}],
        "response_format": {"type": "json_object"}}),
    "structured_json_schema": ("small", {"messages": [
        {"role": "system", "content": "You are the supervisor of a supply chain team."},
        {"role": "user", "content": "Inbound shipment SH-0002 is delayed by 4 days. Who acts next?"}],
        "response_format": {"type": "json_schema", "json_schema": {"name": "Route", "schema": ROUTE_SCHEMA}}}),
    "bare_json_then_text": ("small", {"messages": [
        {"role": "system", "content": "You are the logistics agent. You call tools by writing "
                                      "<tool_call>\n{\"name\": ..., \"arguments\": {...}}\n</tool_call>"},
        {"role": "user", "content": "Look up shipment SH-0009."},
        {"role": "assistant", "content": "<tool_call>\n{\"name\": \"get_shipment\", "
                                         "\"arguments\": {\"shipment_id\": \"SH-0009\"}}\n</tool_call>"},
        {"role": "tool", "tool_call_id": "x", "content": "{\"shipment_id\": \"SH-0009\", \"status\": \"on time\"}"},
        {"role": "user", "content": "Inbound shipment SH-0003 is delayed by 2 days. Look it up."}],
        "tools": [GET_SHIPMENT]}),
    "hermes_native": ("large", {"messages": [
        {"role": "system", "content": "You are the logistics agent.\n\n# Tools\n\nYou may call one or more functions "
         "to assist with the user query.\n\nYou are provided with function signatures within <tools></tools> XML "
         "tags:\n<tools>\n" + json.dumps(GET_SHIPMENT) + "\n</tools>\n\nFor each function call, return a json "
         "object with function name and arguments within <tool_call></tool_call> XML tags:\n<tool_call>\n"
         "{\"name\": <function-name>, \"arguments\": <args-json-object>}\n</tool_call>"},
        {"role": "user", "content": "Inbound shipment SH-0003 is delayed by 2 days. Look it up."}]}),
    "prose_then_json": ("large", {"messages": [
        {"role": "system", "content": "You are the logistics agent. Before each tool call, say in one short "
                                      "sentence what you are doing; then write the call as JSON on its own line."},
        {"role": "user", "content": "Look up shipment SH-0009."},
        {"role": "assistant", "content": "Let me check that shipment first.\n{\"name\": \"get_shipment\", "
                                         "\"arguments\": {\"shipment_id\": \"SH-0009\"}}"},
        {"role": "tool", "tool_call_id": "x", "content": "{\"shipment_id\": \"SH-0009\", \"status\": \"on time\"}"},
        {"role": "user", "content": "Shipment SH-0001 is late by 5 days. Look it up."}], "tools": [GET_SHIPMENT]}),
    "invalid_arguments_po": ("small", {"messages": [
        {"role": "system", "content": "You are the procurement agent. Use the tools."},
        {"role": "user", "content": "Order about fifteen hundred units of SKU-008, whoever is cheapest."}],
        "tools": [CREATE_PO]}),
}


QWEN_TOOL_PROMPT = (
    "<|im_start|>system\nYou are the logistics agent.\n\n# Tools\n\nYou may call one or more functions to assist "
    "with the user query.\n\nYou are provided with function signatures within <tools></tools> XML tags:\n<tools>\n"
    + json.dumps(GET_SHIPMENT) + "\n</tools>\n\nFor each function call, return a json object with function name and "
    "arguments within <tool_call></tool_call> XML tags:\n<tool_call>\n{\"name\": <function-name>, \"arguments\": "
    "<args-json-object>}\n</tool_call><|im_end|>\n<|im_start|>user\nInbound shipment SH-0003 is delayed by 2 days. "
    "Look it up.<|im_end|>\n<|im_start|>assistant\n")
HERMES_OPENING = "<tool_call>\n{"


def capture_hermes() -> None:
    """Hermes tags: these Qwen2.5-Coder builds answer Qwen's tool prompt with bare or fenced JSON, so the
    assistant turn is opened with the tag (raw /v1/completions) and the model writes the rest."""
    request = {"model": "large", "prompt": QWEN_TOOL_PROMPT + HERMES_OPENING, "max_tokens": 60, "temperature": 0}
    req = urllib.request.Request(SERVERS["large"] + "/completions", data=json.dumps(request).encode(),
                                 headers={"Content-Type": "application/json", "Authorization": "Bearer x"})
    with urllib.request.urlopen(req, timeout=600) as resp:
        raw = json.loads(resp.read())
    choice = raw["choices"][0]
    response = {"id": raw.get("id"), "object": "chat.completion", "created": raw.get("created", 0), "model": "large",
                "choices": [{"index": 0, "finish_reason": choice.get("finish_reason", "stop"),
                             "message": {"role": "assistant", "content": HERMES_OPENING + choice["text"]}}],
                "usage": raw["usage"]}
    note = ("The assistant turn was opened with '<tool_call>\\n{' (request.prompt); the content is that opening "
            "plus the model's continuation, which ends without a closing tag.")
    record = {"scenario": "hermes_tool_call", "server": "llama.cpp large (Qwen2.5-Coder 1.5B), /v1/completions",
              "note": note, "request": request, "response": response}
    (OUT / "hermes_tool_call.json").write_text(json.dumps(record, indent=1) + "\n")
    print("hermes_tool_call", repr(response["choices"][0]["message"]["content"]), flush=True)


def capture(name: str) -> None:
    """Send scenario ``name`` to its server and write request + response to the fixtures folder."""
    tier, body = SCENARIOS[name]
    request = {"model": tier, "temperature": 0, "max_tokens": 160, **body}
    started = time.perf_counter()
    req = urllib.request.Request(SERVERS[tier] + "/chat/completions", data=json.dumps(request).encode(),
                                 headers={"Content-Type": "application/json", "Authorization": "Bearer x"})
    with urllib.request.urlopen(req, timeout=600) as resp:
        response = json.loads(resp.read())
    seconds = round(time.perf_counter() - started, 1)
    record = {"scenario": name, "server": f"llama.cpp {tier} (Qwen2.5-Coder {'0.5B' if tier == 'small' else '1.5B'})",
              "seconds": seconds, "request": request, "response": response}
    (OUT / f"{name}.json").write_text(json.dumps(record, indent=1) + "\n")
    print(name, seconds, repr(response["choices"][0]["message"].get("content"))[:200], flush=True)


if __name__ == "__main__":
    OUT.mkdir(parents=True, exist_ok=True)
    for scenario in sys.argv[1:] or [*SCENARIOS, "hermes_tool_call"]:
        capture_hermes() if scenario == "hermes_tool_call" else capture(scenario)
