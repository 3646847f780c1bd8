"""When a started kernel counts as ready (graders/sandbox/pool.py `_wait_for_answer`), with a
scripted client in place of jupyter_client's: the timing cases (a reply that comes a request late,
an iopub subscription that is not through yet) cannot be produced on demand with a real kernel.
The sandbox and docker tiers start real kernels through the same function."""

from __future__ import annotations

import queue
import time
from typing import Any

import pytest

from sadari.graders.sandbox import pool


class Channel:
    def __init__(self, script: list[Any]):
        self.script = script

    def get_msg(self, timeout: float) -> dict[str, Any]:
        step = self.script.pop(0) if self.script else None
        if step is None:
            raise queue.Empty
        return step() if callable(step) else step


class Client:
    """Sends kernel_info requests r1, r2, ...; its shell and iopub channels answer from scripts
    (None: nothing came in time)."""

    def __init__(self, shell: list[Any], iopub: list[Any]):
        self.sent: list[str] = []
        self.shell_channel = Channel(shell)
        self.iopub_channel = Channel(iopub)

    def kernel_info(self) -> str:
        self.sent.append(f"r{len(self.sent) + 1}")
        return self.sent[-1]

    def reply_to(self, n: int) -> Any:
        return lambda: {"parent_header": {"msg_id": self.sent[n - 1]}}


class Kernel(pool.Kernel):
    def __init__(self, client: Client, exits_after: int | None = None):
        self.client = client
        self.exits_after = exits_after

    def exited(self) -> bool:
        return self.exits_after is not None and len(self.client.sent) >= self.exits_after


def wait(kernel: Kernel, seconds: float = 5.0) -> None:
    pool._wait_for_answer(kernel, time.monotonic() + seconds)


def status() -> dict[str, Any]:
    return {"parent_header": {"msg_id": "r1"}, "msg_type": "status"}


def test_a_kernel_whose_replies_come_a_request_late_is_ready_at_the_first_of_them() -> None:
    # the first reply misses its second; from then on each reply answers the request before
    client = Client(shell=[None], iopub=[status()])
    client.shell_channel.script += [client.reply_to(1), client.reply_to(2), client.reply_to(3)]
    wait(Kernel(client))
    assert client.sent == ["r1", "r2"]


def test_a_reply_to_no_request_of_ours_does_not_count() -> None:
    client = Client(shell=[{"parent_header": {"msg_id": "other"}}], iopub=[status()])
    client.shell_channel.script.append(client.reply_to(2))
    wait(Kernel(client))
    assert client.sent == ["r1", "r2"]


def test_a_reply_without_iopub_means_the_subscription_is_not_through_and_it_asks_again() -> None:
    client = Client(shell=[], iopub=[None, status()])
    client.shell_channel.script += [client.reply_to(1), client.reply_to(2)]
    wait(Kernel(client))
    assert client.sent == ["r1", "r2"]


def test_a_kernel_that_exits_or_never_answers_is_an_error() -> None:
    with pytest.raises(RuntimeError, match="exited before it answered"):
        wait(Kernel(Client(shell=[None] * 5, iopub=[]), exits_after=2))
    started = time.monotonic()
    with pytest.raises(RuntimeError, match="did not answer in time"):
        wait(Kernel(Client(shell=[], iopub=[])), seconds=0.05)
    assert time.monotonic() - started < 1.0


def test_a_late_reply_from_the_start_does_not_vouch_for_a_kernel_that_stopped_answering() -> None:
    # the start accepted r1's reply; r2's came after it, when the kernel had stopped answering
    client = Client(shell=[None], iopub=[status()])
    client.shell_channel.script.append(client.reply_to(1))
    kernel = Kernel(client)
    wait(kernel)
    late = {"parent_header": {"msg_id": "r2"}, "content": {"status": "ok"}}
    client.shell_channel.script[:] = [late, None]
    assert not kernel.alive(timeout=0.2)

    def answer() -> dict[str, Any]:
        return {"parent_header": {"msg_id": client.sent[-1]}, "content": {"status": "ok"}}

    client.shell_channel.script[:] = [late, answer]
    assert kernel.alive(timeout=0.2)
