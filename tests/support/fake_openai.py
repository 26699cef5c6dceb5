"""A small OpenAI-compatible chat-completions server on 127.0.0.1 for tests and benchmarks.

It answers ``POST /v1/chat/completions`` by running the offline engine on the request it
received, so tool calls really travel both ways over HTTP in OpenAI's wire format. Every
request is recorded (model name, message count, tools) for assertions.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage, ToolMessage

from opsgraph.models.offline.chat_model import OfflineChatModel


def to_messages(raw: list[dict[str, Any]]) -> list[BaseMessage]:
    """OpenAI wire messages -> LangChain messages."""
    out: list[BaseMessage] = []
    for m in raw:
        role, content = m["role"], m.get("content") or ""
        if role in ("system", "developer"):
            out.append(SystemMessage(content))
        elif role == "user":
            out.append(HumanMessage(content, name=m.get("name")))
        elif role == "assistant":
            calls = [{"name": c["function"]["name"], "args": json.loads(c["function"]["arguments"] or "{}"),
                      "id": c["id"], "type": "tool_call"} for c in m.get("tool_calls") or []]
            out.append(AIMessage(content, tool_calls=calls, name=m.get("name")))
        elif role == "tool":
            out.append(ToolMessage(content, tool_call_id=m["tool_call_id"]))
    return out


def _forced_schema(body: dict[str, Any]) -> dict[str, Any] | None:
    choice = body.get("tool_choice")
    if isinstance(choice, dict) and choice.get("type") == "function":
        name = choice["function"]["name"]
        for tool in body.get("tools") or []:
            if tool["function"]["name"] == name:
                return {**tool["function"].get("parameters", {}), "title": name}
    return None


def completion(body: dict[str, Any]) -> dict[str, Any]:
    """The chat completion the offline engine gives for an OpenAI request body."""
    model = OfflineChatModel(model_name="offline:" + body.get("model", "remote"))
    schema = _forced_schema(body)
    kwargs = {"structured_schema": schema} if schema else {"tools": body.get("tools") or []}
    result = model._generate(to_messages(body["messages"]), **kwargs)
    message: AIMessage = result.generations[0].message
    calls = [{"id": c["id"], "type": "function",
              "function": {"name": c["name"], "arguments": json.dumps(c["args"])}} for c in message.tool_calls]
    usage = message.usage_metadata
    return {
        "id": "chatcmpl-" + uuid.uuid4().hex[:12],
        "object": "chat.completion",
        "created": int(time.time()),
        "model": body.get("model"),
        "choices": [{"index": 0, "finish_reason": "tool_calls" if calls else "stop",
                     "message": {"role": "assistant", "content": message.content or None,
                                 **({"tool_calls": calls} if calls else {})}}],
        "usage": {"prompt_tokens": usage["input_tokens"], "completion_tokens": usage["output_tokens"],
                  "total_tokens": usage["total_tokens"]},
    }


class FakeOpenAIServer:
    """Start with ``with FakeOpenAIServer() as server: server.base_url``.

    ``respond`` replaces how a request body becomes a completion (default: the offline
    engine); benchmarks wrap the default to simulate a weaker model on some names.
    """

    def __init__(self, respond: Callable[[dict[str, Any]], dict[str, Any]] | None = None) -> None:
        self.respond = respond or completion
        self.requests: list[dict[str, Any]] = []
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        """Base URL to give the openai provider."""
        return f"http://127.0.0.1:{self._server.server_port}/v1"

    def __enter__(self) -> "FakeOpenAIServer":
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # keep test output clean
                pass

            def do_POST(self) -> None:  # noqa: N802 - http.server naming
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
                if not self.path.endswith("/chat/completions"):
                    self._send(404, {"error": {"message": f"no route {self.path}"}})
                    return
                server.requests.append({"model": body.get("model"), "messages": len(body["messages"]),
                                        "tools": [t["function"]["name"] for t in body.get("tools") or []],
                                        "auth": self.headers.get("Authorization")})
                self._send(200, server.respond(body))

            def _send(self, status: int, payload: dict[str, Any]) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        return Handler
