"""Development SMTP server started by the AppHost: aiosmtpd on 127.0.0.1, every message kept in a Maildir.

Usage: python3 smtp_server.py <port> <maildir>
"""
import asyncio
import mailbox
import signal
import sys

from aiosmtpd.controller import Controller


class MaildirHandler:
    def __init__(self, path):
        self.maildir = mailbox.Maildir(path, create=True)

    async def handle_DATA(self, server, session, envelope):
        content = envelope.original_content or envelope.content
        header = "X-Envelope-From: {}\r\nX-Envelope-To: {}\r\n".format(
            envelope.mail_from, ", ".join(envelope.rcpt_tos)).encode()
        self.maildir.add(header + content)
        print("delivered mail from {} to {}".format(envelope.mail_from, ", ".join(envelope.rcpt_tos)), flush=True)
        return "250 Message accepted for delivery"


def main():
    port = int(sys.argv[1])
    controller = Controller(MaildirHandler(sys.argv[2]), hostname="127.0.0.1", port=port)
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
