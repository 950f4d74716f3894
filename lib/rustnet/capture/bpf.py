"""The BPF filter rn-capture installs: the user's expression, minus our own ssh session.

When rn-capture runs over ssh (``ssh host rn-capture | rn-view``) its output travels on
the ssh connection it is capturing; without an exclusion the monitor would mostly
measure itself, and every packet it reports would make another one.
"""

from __future__ import annotations


def ssh_self_clause(ssh_connection: str | None) -> str | None:
    """``not (host A and port P and host B and port Q)`` for ``$SSH_CONNECTION``, or None."""
    if not ssh_connection:
        return None
    parts = ssh_connection.split()
    if len(parts) != 4:
        return None
    client, cport, server, sport = parts
    import ipaddress  # only over ssh: not worth its start-up time otherwise

    try:
        client_ip = ipaddress.ip_address(client.split("%", 1)[0])
        server_ip = ipaddress.ip_address(server.split("%", 1)[0])
        ports = int(cport), int(sport)
    except ValueError:
        return None
    if not all(0 < p < 65536 for p in ports):
        return None
    return f"not (host {client_ip} and port {ports[0]} and host {server_ip} and port {ports[1]})"


def combine(*clauses: str | None) -> str:
    """AND the non-empty clauses together, each parenthesised."""
    parts = [c.strip() for c in clauses if c and c.strip()]
    if len(parts) == 1:
        return parts[0]
    return " and ".join(f"({c})" for c in parts)
