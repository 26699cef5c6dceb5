"""An OpenAI-compatible server on 127.0.0.1 that also answers ``"stream": true`` with server-sent events.

Answers come from the offline engine (as in ``fake_openai``); streamed answers are cut into
small content deltas so a client really receives tokens one after another. Each request's
``stream`` flag is recorded for assertions.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Iterator

from tests.support.fake_openai import completion as completion_for

WORDS_PER_DELTA = 2


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


class StreamingOpenAIServer:
    """Start with ``with StreamingOpenAIServer() as server: server.base_url``."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        """Base URL to give the openai provider."""
        return f"http://127.0.0.1:{self._server.server_port}/v1"

    def __enter__(self) -> "StreamingOpenAIServer":
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:  # keep test output clean
                pass

            def do_POST(self) -> None:  # noqa: N802 - http.server naming
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
                server.requests.append({"model": body.get("model"), "stream": bool(body.get("stream"))})
                answer = completion_for(body)
                if body.get("stream"):
                    usage = bool((body.get("stream_options") or {}).get("include_usage"))
                    self._events(sse_chunks(answer, usage))
                else:
                    self._json(answer)

            def _json(self, payload: dict[str, Any]) -> None:
                data = json.dumps(payload).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _events(self, chunks: Iterator[dict[str, Any]]) -> None:
                lines = [f"data: {json.dumps(chunk)}\n\n" for chunk in chunks] + ["data: [DONE]\n\n"]
                data = "".join(lines).encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        return Handler
