"""A small OpenAI-compatible chat-completions server on 127.0.0.1 for tests and benchmarks.

It answers ``POST /v1/chat/completions`` by running the offline engine on the request it
received, so tool calls really travel both ways over HTTP in OpenAI's wire format. A request
with ``"stream": true`` is answered with server-sent events, the content cut into small
deltas so a client really receives tokens one after another. Every request is recorded
(model name, message count, tools, authorization, stream flag) for assertions.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Iterator

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage, ToolMessage

from opsgraph.models.offline.chat_model import OfflineChatModel

WORDS_PER_DELTA = 2
# Faults the server can inject, as real providers and local servers produce them.
FAULT_MODES = ("500", "429", "timeout", "malformed_json", "html", "empty_choices")
RETRY_AFTER_MS = "20"  # tells the client to retry at once, so tests of retries stay fast


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


def _response_schema(body: dict[str, Any]) -> dict[str, Any] | None:
    """The JSON schema of ``response_format: {type: json_schema}``, as OpenAI's structured outputs take it."""
    fmt = body.get("response_format") or {}
    if fmt.get("type") != "json_schema":
        return None
    spec = fmt.get("json_schema") or {}
    return {**(spec.get("schema") or {}), "title": spec.get("name") or "answer"}


def completion(body: dict[str, Any]) -> dict[str, Any]:
    """The chat completion the offline engine gives for an OpenAI request body."""
    model = OfflineChatModel(model_name="offline:" + body.get("model", "remote"))
    schema = _forced_schema(body) or _response_schema(body)
    kwargs = {"structured_schema": schema} if schema else {"tools": body.get("tools") or []}
    result = model._generate(to_messages(body["messages"]), **kwargs)
    message: AIMessage = result.generations[0].message
    if _response_schema(body) and message.tool_calls:
        # Structured outputs answer in the content, as JSON text, not as a tool call.
        message = AIMessage(json.dumps(message.tool_calls[0]["args"]), usage_metadata=message.usage_metadata)
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


def sse_chunks(completion: dict[str, Any], include_usage: bool) -> Iterator[dict[str, Any]]:
    """The ``chat.completion.chunk`` objects that stream ``completion``."""
    choice = completion["choices"][0]
    message = choice["message"]
    base = {"id": completion["id"], "object": "chat.completion.chunk", "created": completion["created"],
            "model": completion["model"]}
    yield {**base, "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}]}
    words = (message.get("content") or "").split(" ")
    for start in range(0, len(words) if message.get("content") else 0, WORDS_PER_DELTA):
        piece = " ".join(words[start:start + WORDS_PER_DELTA]) + (" " if start + WORDS_PER_DELTA < len(words) else "")
        yield {**base, "choices": [{"index": 0, "delta": {"content": piece}, "finish_reason": None}]}
    for index, call in enumerate(message.get("tool_calls") or []):
        yield {**base, "choices": [{"index": 0, "delta": {"tool_calls": [{"index": index, **call}]}, "finish_reason": None}]}
    yield {**base, "choices": [{"index": 0, "delta": {}, "finish_reason": choice["finish_reason"]}]}
    if include_usage:
        yield {**base, "choices": [], "usage": completion["usage"]}


def fault_response(mode: str, body: dict[str, Any]) -> tuple[int, str, str, dict[str, str]]:
    """Status, content type, body and headers of the answer that injects fault ``mode``."""
    if mode == "timeout":  # answered, but only after the client stopped waiting
        return 200, "application/json", json.dumps(completion(body)), {}
    if mode in ("500", "429"):
        kind = "server_error" if mode == "500" else "rate_limit_exceeded"
        error = json.dumps({"error": {"message": "injected fault", "type": kind}})
        return int(mode), "application/json", error, {"retry-after-ms": RETRY_AFTER_MS}
    if mode == "malformed_json":
        return 200, "application/json", '{"id": "chatcmpl-x", "choices": [{"index": 0, ', {}
    if mode == "html":
        return 200, "text/html", "<html><body><h1>502 Bad Gateway</h1></body></html>", {}
    empty = {"id": "chatcmpl-x", "object": "chat.completion", "created": int(time.time()),
             "model": body.get("model"), "choices": []}
    return 200, "application/json", json.dumps(empty), {}


class FakeHTTPError(Exception):
    """Raised by a ``respond`` to answer with an HTTP error status and an OpenAI-style error body."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


class FakeOpenAIServer:
    """Start with ``with FakeOpenAIServer() as server: server.base_url``.

    ``respond`` replaces how a request body becomes a completion (default: the offline
    engine); benchmarks wrap the default to simulate a weaker model on some names.
    """

    def __init__(self, respond: Callable[[dict[str, Any]], dict[str, Any]] | None = None) -> None:
        self.respond = respond or completion
        self.requests: list[dict[str, Any]] = []
        self.faults_served = 0
        self._fault: dict[str, Any] | None = None
        self._fault_lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        """Base URL to give the openai provider."""
        return f"http://127.0.0.1:{self._server.server_port}/v1"

    def inject(self, mode: str, *, after: int = 0, times: int | None = None, hang_s: float = 10.0) -> None:
        """Answer with fault ``mode`` once ``after`` requests were served, ``times`` times (None: until healed).

        ``timeout`` holds the request ``hang_s`` seconds before answering, longer than the client waits.
        """
        if mode not in FAULT_MODES:
            raise ValueError(f"unknown fault {mode!r}; choose one of {FAULT_MODES}")
        with self._fault_lock:
            self._fault = {"mode": mode, "after": len(self.requests) + after, "times": times, "hang_s": hang_s}

    def heal(self) -> None:
        """Stop injecting faults: every request is answered normally again."""
        with self._fault_lock:
            self._fault = None

    def _next_fault(self) -> dict[str, Any] | None:
        with self._fault_lock:
            fault = self._fault
            if fault is None or len(self.requests) <= fault["after"]:
                return None
            if fault["times"] is not None:
                if fault["times"] <= 0:
                    return None
                fault["times"] -= 1
            self.faults_served += 1
            return dict(fault)

    def __enter__(self) -> "FakeOpenAIServer":
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as OpenAI clients expect; every answer has a length

            def log_message(self, *args: Any) -> None:  # keep test output clean
                pass

            def do_POST(self) -> None:  # noqa: N802 - http.server naming
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
                if not self.path.endswith("/chat/completions"):
                    self._send(404, "application/json", json.dumps({"error": {"message": f"no route {self.path}"}}))
                    return
                server.requests.append({"model": body.get("model"), "messages": len(body["messages"]),
                                        "tools": [t["function"]["name"] for t in body.get("tools") or []],
                                        "auth": self.headers.get("Authorization"), "stream": bool(body.get("stream"))})
                fault = server._next_fault()
                if fault is not None:
                    self._fault(fault, body)
                    return
                try:
                    answer = server.respond(body)
                except FakeHTTPError as exc:
                    self._send(exc.status, "application/json", json.dumps({"error": {"message": exc.message}}))
                    return
                if not body.get("stream"):
                    self._send(200, "application/json", json.dumps(answer))
                    return
                usage = bool((body.get("stream_options") or {}).get("include_usage"))
                events = [f"data: {json.dumps(chunk)}\n\n" for chunk in sse_chunks(answer, usage)]
                self._send(200, "text/event-stream", "".join(events) + "data: [DONE]\n\n")

            def _fault(self, fault: dict[str, Any], body: dict[str, Any]) -> None:
                if fault["mode"] == "timeout":
                    time.sleep(fault["hang_s"])
                try:
                    self._send(*fault_response(fault["mode"], body))
                except OSError:  # a client that timed out has closed the connection long ago
                    pass

            def _send(self, status: int, content_type: str, text: str, headers: dict[str, str] | None = None) -> None:
                data = text.encode()
                self.send_response(status)
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        return Handler


def replay(responses: list[dict[str, Any]]) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """A ``respond`` that answers requests with recorded chat completions, in order.

    Once the recordings run out the offline engine answers, so a graph can run to its end.
    """
    queue = list(responses)

    def respond(body: dict[str, Any]) -> dict[str, Any]:
        return queue.pop(0) if queue else completion(body)

    return respond


def slow(seconds: list[float]) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """A ``respond`` that waits ``seconds[i]`` before answering request i (0 once the list runs out)."""
    delays = list(seconds)

    def respond(body: dict[str, Any]) -> dict[str, Any]:
        time.sleep(delays.pop(0) if delays else 0.0)
        return completion(body)

    return respond
