"""A local OpenAI-compatible HTTP server for tests: the real litellm client talks to it over real HTTP."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

SUBMIT = "Done.\n\n```bash\necho COMPLETE_TASK_AND_SUBMIT_FINAL_OUTPUT\n```"


class ToolCall(str):
    """A reply that is a call of the `bash` tool with this command (tool-calling agents such as mini)."""


class FakeOpenAI:
    """Answers POST /v1/chat/completions with the next scripted reply; records every request it got.

    `delay_s` makes every answer that late (a slow server); leaving the context ends the waits at once.
    """

    def __init__(
        self,
        replies: list[str | ToolCall],
        *,
        status: int = 200,
        usage: tuple[int, int] = (11, 7),
        delay_s: float = 0.0,
    ) -> None:
        self.replies = list(replies)
        self.status = status
        self.usage = usage
        self.delay_s = delay_s
        self.closing = threading.Event()
        self.requests: list[dict[str, Any]] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:  # keep test output clean
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = json.loads(self.rfile.read(length) or b"{}")
                owner.requests.append({"path": self.path, "body": body, "auth": self.headers.get("Authorization")})
                if owner.delay_s and owner.closing.wait(owner.delay_s):
                    return  # shutting down: the client has long given up
                payload = owner._answer(body)
                self.send_response(owner.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}/v1"

    def _answer(self, body: dict[str, Any]) -> bytes:
        if self.status != 200:
            return json.dumps(
                {"error": {"message": "the fake server refuses", "type": "invalid_request_error"}}
            ).encode()
        reply = self.replies.pop(0) if self.replies else SUBMIT
        message: dict[str, Any] = {"role": "assistant", "content": reply}
        finish_reason = "stop"
        if isinstance(reply, ToolCall):
            call = {"name": "bash", "arguments": json.dumps({"command": str(reply)})}
            message = {
                "role": "assistant",
                "content": "Running a command.",
                "tool_calls": [{"id": f"call_{len(self.requests)}", "type": "function", "function": call}],
            }
            finish_reason = "tool_calls"
        prompt, completion = self.usage
        return json.dumps(
            {
                "id": f"chatcmpl-{len(self.requests)}",
                "object": "chat.completion",
                "created": 0,
                "model": body.get("model", "fake"),
                "choices": [{"index": 0, "message": message, "finish_reason": finish_reason}],
                "usage": {
                    "prompt_tokens": prompt,
                    "completion_tokens": completion,
                    "total_tokens": prompt + completion,
                },
            }
        ).encode()

    def __enter__(self) -> FakeOpenAI:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.closing.set()
        self.server.shutdown()
        self.server.server_close()
