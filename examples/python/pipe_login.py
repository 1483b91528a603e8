#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""A login handshake over a pipe between unrelated processes.

Role `server`: meet the client at "pyexamples.login", receive a (user,
password) request and answer (ok, message). Role `client USER PASSWORD`:
send the request and print the answer. Without a role, the server and two
clients (one with a wrong password) run as separate processes.
"""

import sys

import mpx
from _roles import finish, say, start

NAME = "pyexamples.login"
USERS = {"ann": "secret"}


def server(n):
    for _ in range(n):
        conn = mpx.open_pipe(NAME, "duplex", timeout=60)
        user, password = conn.recv()
        ok = USERS.get(user) == password
        conn.send((ok, "welcome, %s" % user if ok else "wrong user or password"))
        conn.close()


def client(user, password):
    conn = mpx.open_pipe(NAME, "duplex", timeout=60)
    conn.send((user, password))
    ok, message = conn.recv()
    say("%s: %s (%s)" % (user, message, "ok" if ok else "refused"))
    conn.close()


if __name__ == "__main__":
    role = sys.argv[1] if len(sys.argv) > 1 else None
    if role == "server":
        server(int(sys.argv[2]))
    elif role == "client":
        client(sys.argv[2], sys.argv[3])
    else:
        srv = start(__file__, "server", 2)
        finish(start(__file__, "client", "ann", "secret"))
        finish(start(__file__, "client", "bob", "guess"))
        finish(srv)
