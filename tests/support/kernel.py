"""Run code in a kernel of a person's real notebook server, as JupyterLab does.

`run_code(hub, username, code)` starts a kernel through the server's REST API with the person's own
token, sends one execute_request over the kernel's websocket (Jupyter's messaging protocol, JSON),
and returns what the code printed; an error in the code raises with its traceback. `start_kernel`
and `execute` do the same in steps, for a kernel that must keep its state between calls.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime
from typing import Any

from tornado.httpclient import HTTPRequest
from tornado.websocket import websocket_connect

from .hub import RunningHub


def _message(code: str) -> dict[str, Any]:
    return {
        "header": {
            "msg_id": uuid.uuid4().hex,
            "msg_type": "execute_request",
            "username": "test",
            "session": uuid.uuid4().hex,
            "version": "5.3",
            "date": datetime.now(UTC).isoformat(),
        },
        "parent_header": {},
        "metadata": {},
        "content": {
            "code": code,
            "silent": False,
            "store_history": False,
            "user_expressions": {},
            "allow_stdin": False,
            "stop_on_error": True,
        },
        "channel": "shell",
        "buffers": [],
    }


async def _execute(url: str, token: str, code: str, timeout: float) -> str:
    ws = await websocket_connect(HTTPRequest(url, headers={"Authorization": f"token {token}"}))
    try:
        request = _message(code)
        await ws.write_message(json.dumps(request))
        out: list[str] = []
        while True:
            raw = await asyncio.wait_for(ws.read_message(), timeout)
            if raw is None:
                raise RuntimeError(f"the kernel's websocket closed; printed so far: {out}")
            msg = json.loads(raw)
            if msg.get("parent_header", {}).get("msg_id") != request["header"]["msg_id"]:
                continue
            kind, content = msg["msg_type"], msg["content"]
            if kind == "stream":
                out.append(content["text"])
            elif kind == "error":
                raise RuntimeError("\n".join(content["traceback"]))
            elif kind == "status" and content["execution_state"] == "idle":
                return "".join(out)
    finally:
        ws.close()


def start_kernel(hub: RunningHub, username: str) -> str:
    """A new kernel on the user's running server; its id."""
    r = hub.call(username, "POST", f"/user/{username}/api/kernels", json={"name": "python3"})
    assert r.status_code == 201, r.text
    kernel: str = r.json()["id"]
    return kernel


def execute(hub: RunningHub, username: str, kernel: str, code: str, timeout: float = 60) -> str:
    """Run `code` in an existing kernel of the user's server; what it printed."""
    ws_url = hub.url.replace("http", "ws", 1) + f"/user/{username}/api/kernels/{kernel}/channels"
    return asyncio.run(_execute(ws_url, hub.token(username), code, timeout))


def run_code(hub: RunningHub, username: str, code: str, timeout: float = 60) -> str:
    """Run `code` in a fresh kernel of `username`'s running server; what it printed."""
    kernel = start_kernel(hub, username)
    try:
        return execute(hub, username, kernel, code, timeout)
    finally:
        hub.call(username, "DELETE", f"/user/{username}/api/kernels/{kernel}")
