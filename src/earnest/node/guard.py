"""Which addresses a node may connect to, enforced where connections are made.

A fetch job names a URL a requester chose. Without this guard a job could make the
operator's machine reach their router, their printer or a cloud metadata service. The
guard resolves each host itself, refuses loopback, private, link-local, multicast,
reserved, unspecified and other non-global addresses, and then connects to the very
address it checked: a DNS answer cannot change between check and connection (rebinding),
and every redirect hop passes the same check, because every new connection does.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Iterable

import httpcore
import httpx

from earnest.domain.errors import Forbidden

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Resolver = Callable[[str, int], list[str]]

_REFUSED = (
    ("is_unspecified", "unspecified"),
    ("is_loopback", "loopback"),
    ("is_link_local", "link-local"),
    ("is_multicast", "multicast"),
    ("is_reserved", "reserved"),  # before private: Python counts 240/4 as both
    ("is_private", "private"),
)


class FetchRefused(Forbidden):
    """The node will not make this request (address, robots.txt, allowlist, byte cap)."""

    title = "Fetch refused"
    code = "fetch_refused"


def refusal(address: str) -> str | None:
    """Why a node refuses to connect to `address` by default, or None for a public one."""
    ip: IPAddress = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address):
        # An IPv4 address inside an IPv6 one reaches that IPv4 host: judge that one.
        embedded = ip.ipv4_mapped or ip.sixtofour or (ip.teredo[1] if ip.teredo else None)
        if embedded is not None:
            return refusal(str(embedded))
    for attribute, name in _REFUSED:
        if getattr(ip, attribute):
            return name
    if not ip.is_global:  # shared (100.64/10) and other special-purpose ranges
        return "not globally routable"
    return None


def system_resolver(host: str, port: int) -> list[str]:
    """Every address the system resolver gives for `host` (TCP), in its order."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise httpcore.ConnectError(f"cannot resolve {host}: {exc}") from exc
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


class Guard:
    """The address policy of one node: public addresses only, unless the operator says so."""

    def __init__(
        self,
        *,
        allow_private: bool = False,
        exempt: Iterable[Network] = (),
        resolve: Resolver = system_resolver,
    ) -> None:
        self.allow_private = allow_private
        self.exempt = tuple(exempt)  # networks the operator allows anyway (a lab, a test)
        self.resolve = resolve

    def addresses(self, host: str, port: int) -> list[str]:
        """The addresses to connect to for `host`; FetchRefused if any is not allowed.

        A name resolving to a private address next to public ones is refused as a whole:
        which one a connection would use is not for the requester to pick."""
        found = self.resolve(host, port)
        if not found:
            raise httpcore.ConnectError(f"{host} has no address")
        if self.allow_private:
            return found
        for address in found:
            why = refusal(address)
            if why and not any(ipaddress.ip_address(address) in n for n in self.exempt):
                raise FetchRefused(
                    f"{host} resolves to {address}, a {why} address; this node fetches public "
                    "addresses only (its operator may pass --allow-private)"
                )
        return found


class GuardedBackend(httpcore.SyncBackend):
    """httpcore's socket backend, connecting only to addresses the guard allowed."""

    def __init__(self, guard: Guard) -> None:
        self.guard = guard

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        error: Exception | None = None
        for address in self.guard.addresses(host, port):
            try:
                return super().connect_tcp(address, port, timeout, local_address, socket_options)
            except httpcore.ConnectError as exc:
                error = exc
        raise error or httpcore.ConnectError(f"cannot connect to {host}")


def guarded_transport(guard: Guard) -> httpx.HTTPTransport:
    """An httpx transport whose every connection goes through `guard`.

    httpx 0.28 offers no public way to give its connection pool a network backend
    (encode/httpx#3180), so the pool it builds is replaced by one that has ours; TLS still
    verifies the certificate against the host name, not the address.
    """
    transport = httpx.HTTPTransport(trust_env=False)
    transport._pool = httpcore.ConnectionPool(
        ssl_context=httpx.create_ssl_context(trust_env=False),
        max_connections=10,
        max_keepalive_connections=5,
        keepalive_expiry=5.0,
        network_backend=GuardedBackend(guard),
    )
    return transport
