"""The webhook sender: HTTP POSTs to requesters' endpoints, through the address guard.

An endpoint's URL is a stranger's choice, so the market connects only where the bandwidth
node would (public addresses; node/guard.py: each address checked where the connection is
made, so DNS rebinding cannot turn it inward), unless the operator allows private ones.
Redirects are not followed: a receiver answers for itself.
"""

from __future__ import annotations

import httpx

from earnest.node.guard import Guard, guarded_transport


class HttpSender:
    """services.webhooks.Sender over httpx."""

    def __init__(self, *, allow_private: bool, timeout: float) -> None:
        transport = guarded_transport(Guard(allow_private=allow_private))
        self.client = httpx.Client(transport=transport, timeout=timeout, follow_redirects=False)

    def post(self, url: str, body: bytes, headers: dict[str, str]) -> int:
        return self.client.post(url, content=body, headers=headers).status_code

    def close(self) -> None:
        self.client.close()
