#!/usr/bin/env python3
"""A real SMTP server for the e-mail tests (aiosmtpd, installed by .ci/run): listens on
127.0.0.1:PORT, requires AUTH (PLAIN or LOGIN) as USER/PASSWORD over the plain connection, and
writes each message it accepts to OUT_DIR/NNNN.eml (atomically). Prints "ready" once listening.

usage: smtp_server.py PORT OUT_DIR USER PASSWORD
"""
import os
import sys
import time

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

port, out_dir, user, password = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]


class Handler:
    def __init__(self):
        self.count = 0

    async def handle_DATA(self, server, session, envelope):
        self.count += 1
        path = os.path.join(out_dir, f"{self.count:04}.eml")
        with open(path + ".tmp", "wb") as f:
            f.write(b"X-Envelope-To: " + ",".join(envelope.rcpt_tos).encode() + b"\r\n")
            f.write(envelope.original_content or envelope.content)
        os.rename(path + ".tmp", path)
        return "250 OK"


def authenticator(server, session, envelope, mechanism, auth_data):
    ok = (
        isinstance(auth_data, LoginPassword)
        and auth_data.login == user.encode()
        and auth_data.password == password.encode()
    )
    return AuthResult(success=ok, handled=False)


controller = Controller(
    Handler(),
    hostname="127.0.0.1",
    port=port,
    authenticator=authenticator,
    auth_required=True,
    auth_require_tls=False,
)
controller.start()
print("ready", flush=True)
try:
    while True:
        time.sleep(3600)
finally:
    controller.stop()
