"""PURE: why a connection to IB failed, in words a trader can act on.

The most common real failure is a port that accepts the connection but never completes the API
handshake: the API is disabled in IB Gateway/TWS, it is another program's port, or the gateway
waits for a login (its daily restart, 2FA). ib_async raises a bare ``TimeoutError`` for it, with
an empty message; whether the TCP connection itself was made (the handshake was sent) tells it
apart from a host that does not answer at all.
"""

from __future__ import annotations


def unreachable(host: str, port: int, client_id: int, exc: BaseException, *, handshake_sent: bool,
                timeout: float) -> str:
    """One line: ``cannot connect to IB (clientId 7): <what happened>: <what to check>``."""
    where = f"{host}:{port}"
    if isinstance(exc, TimeoutError):
        if handshake_sent:
            why = (f"connected to {where} but the API handshake did not complete within {timeout:g} s: is the API "
                   "enabled (Enable ActiveX and Socket Clients), is this the right port, is the gateway logged in?")
        else:
            why = f"no answer from {where} within {timeout:g} s: is the host reachable, or does a firewall drop it?"
    elif isinstance(exc, ConnectionRefusedError):
        why = (f"nothing listens on {where} (connection refused): is IB Gateway or TWS running, and is {port} its "
               "API port?")
    else:
        why = f"{where}: {str(exc) or type(exc).__name__}"
    return f"cannot connect to IB (clientId {client_id}): {why}"
