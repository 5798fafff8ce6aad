"""SMTP server for development and tests: aiosmtpd on 127.0.0.1, every accepted message kept in a Maildir.

The AppHost starts it for development mail; the tests start it too (Tests/Infrastructure/SmtpServer.cs) with
--scripted-replies, under which recipients whose local part starts with 'reject-' are refused permanently (550)
and those starting with 'tempfail-' transiently (451), so the mail worker's retry and failure paths meet a real
server's replies.

Usage: python3 smtp_server.py <port> <maildir> [--scripted-replies]
"""
import asyncio
import mailbox
import signal
import sys

from aiosmtpd.controller import Controller


class MaildirHandler:
    def __init__(self, path, scripted_replies):
        self.maildir = mailbox.Maildir(path, create=True)
        self.scripted_replies = scripted_replies

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        local = address.split("@", 1)[0].lower()
        if self.scripted_replies and local.startswith("reject-"):
            return "550 5.1.1 Mailbox unavailable: " + address
        if self.scripted_replies and local.startswith("tempfail-"):
            return "451 4.3.0 Try again later: " + address
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        content = envelope.original_content or envelope.content
        header = "X-Envelope-From: {}\r\nX-Envelope-To: {}\r\n".format(
            envelope.mail_from, ", ".join(envelope.rcpt_tos)).encode()
        self.maildir.add(header + content)
        print("delivered mail from {} to {}".format(envelope.mail_from, ", ".join(envelope.rcpt_tos)), flush=True)
        return "250 Message accepted for delivery"


def main():
    port = int(sys.argv[1])
    scripted_replies = "--scripted-replies" in sys.argv[3:]
    controller = Controller(MaildirHandler(sys.argv[2], scripted_replies), hostname="127.0.0.1", port=port)
    controller.start()
    print("SMTP listening on 127.0.0.1:{}, maildir {}".format(port, sys.argv[2]), flush=True)
    stop = asyncio.Event()
    loop = asyncio.new_event_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    loop.run_until_complete(stop.wait())
    controller.stop()


if __name__ == "__main__":
    main()
