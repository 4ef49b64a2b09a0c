"""`host:port` addresses our TCP servers listen on (OTLP, /metrics), and whether they are
loopback: kept apart from config.py so the settings of a part (metrics/settings.py) can use
them without importing config, which imports those settings."""

from __future__ import annotations

import ipaddress


def split_listen(listen: str) -> tuple[str, int]:
    """`host:port` (`[v6]:port` for IPv6) -> (host, port); ValueError with the reason."""
    host, sep, port = listen.rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"{listen!r}: must be host:port with a port from 1 to 65535")
    host = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    if not host:
        raise ValueError(f"{listen!r}: names no host (use 127.0.0.1)")
    return host, int(port)


def is_loopback(host: str) -> bool:
    """Whether `host` is a loopback address or `localhost` (any other name could be
    anything: names are not resolved here)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
