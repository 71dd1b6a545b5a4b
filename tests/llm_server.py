"""A real OpenAI-compatible HTTP server on 127.0.0.1 with scripted replies, for tests.

Serves ``POST /v1/chat/completions`` (streaming SSE and plain JSON) and ``GET /v1/models``.
Each request consumes the next scripted reply; a reply is a string (the completion text) or
``{"delay": seconds}`` (sleep before answering, to trigger client timeouts) or ``{"status": code}``.
Received JSON bodies are kept in ``requests`` so tests can inspect the prompt that was sent.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class ScriptedLLMServer:
    def __init__(self, replies: list[Any] | None = None, default: str = "Les textes indexés ne couvrent pas cette question.") -> None:
        self.replies: list[Any] = list(replies or [])
        self.default = default
        self.requests: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/v1"

    def next_reply(self) -> Any:
        with self._lock:
            return self.replies.pop(0) if self.replies else self.default

    def __enter__(self) -> ScriptedLLMServer:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:  # silence
                return

            def do_GET(self) -> None:  # noqa: N802
                body = json.dumps({"object": "list", "data": [{"id": "test-model", "object": "model"}]}).encode()
                self._send(200, body, "application/json")

            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("Content-Length") or 0)
                payload = json.loads(self.rfile.read(length) or b"{}")
                with owner._lock:
                    owner.requests.append(payload)
                reply = owner.next_reply()
                if isinstance(reply, dict) and "delay" in reply:
                    time.sleep(float(reply["delay"]))
                    reply = reply.get("then", owner.default)
                if isinstance(reply, dict) and "status" in reply:
                    body = json.dumps({"error": {"message": "erreur scriptée", "type": "server_error"}}).encode()
                    self._send(int(reply["status"]), body, "application/json")
                    return
                text = str(reply)
                if payload.get("stream"):
                    self._stream(text, payload.get("model", "test-model"))
                else:
                    body = json.dumps({
                        "id": "cmpl-test", "object": "chat.completion", "created": int(time.time()),
                        "model": payload.get("model", "test-model"),
                        "choices": [{"index": 0, "message": {"role": "assistant", "content": text},
                                     "finish_reason": "stop"}],
                        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
                    }).encode()
                    self._send(200, body, "application/json")

            def _send(self, status: int, body: bytes, ctype: str) -> None:
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", ctype)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def _stream(self, text: str, model: str) -> None:
                try:
                    self.send_response(200)
                    self.send_header("Content-Type", "text/event-stream")
                    self.send_header("Cache-Control", "no-cache")
                    self.send_header("Connection", "close")
                    self.end_headers()
                    words = text.split(" ")
                    for i, word in enumerate(words):
                        piece = word if i == 0 else " " + word
                        chunk = {"id": "cmpl-test", "object": "chat.completion.chunk", "created": int(time.time()),
                                 "model": model,
                                 "choices": [{"index": 0, "delta": {"content": piece}, "finish_reason": None}]}
                        self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
                    end = {"id": "cmpl-test", "object": "chat.completion.chunk", "created": int(time.time()),
                           "model": model, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}
                    self.wfile.write(f"data: {json.dumps(end)}\n\ndata: [DONE]\n\n".encode())
                    self.wfile.flush()
                    self.close_connection = True
                except (BrokenPipeError, ConnectionResetError):
                    pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
