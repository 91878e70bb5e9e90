#!/usr/bin/env python3
"""A real SMTP server for the e-mail tests (aiosmtpd, installed by .ci/run): listens on
127.0.0.1:PORT, requires AUTH (PLAIN or LOGIN) as USER/PASSWORD, and writes each message it
accepts to OUT_DIR/NNNN.eml (atomically). Prints "ready" once listening.

With `starttls CERT KEY` it requires STARTTLS (with that certificate) before AUTH and mail; with
`tls CERT KEY` it speaks TLS from the first byte (SMTPS). Without, AUTH goes over the plain
connection.

usage: smtp_server.py PORT OUT_DIR USER PASSWORD [starttls|tls CERT KEY]
"""
import os
import ssl
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


mode = sys.argv[5] if len(sys.argv) > 5 else "none"
options = {}
if mode != "none":
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(sys.argv[6], sys.argv[7])
    if mode == "starttls":
        options = {"tls_context": context, "require_starttls": True}
    elif mode == "tls":
        options = {"ssl_context": context}
    else:
        sys.exit(f"unknown mode {mode!r}: starttls, tls or none")

controller = Controller(
    Handler(),
    hostname="127.0.0.1",
    port=port,
    authenticator=authenticator,
    auth_required=True,
    # Implicit TLS is TLS already, but aiosmtpd counts only STARTTLS as TLS for AUTH.
    auth_require_tls=mode == "starttls",
    **options,
)
controller.start()
print("ready", flush=True)
try:
    while True:
        time.sleep(3600)
finally:
    controller.stop()
