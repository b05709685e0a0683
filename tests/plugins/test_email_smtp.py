"""The SMTP server protocol, sans-IO: sequences, dot-unstuffing, pipelining, the size limit, error codes."""

from __future__ import annotations

import trio
import trio.testing

from plugins.builtin.email.smtp_server import Envelope, Reply, SmtpServerProtocol, serve_smtp


def codes(outputs: list[Reply | Envelope]) -> list[int | str]:
    return [o.code if isinstance(o, Reply) else "envelope" for o in outputs]


def session(**kw: int) -> SmtpServerProtocol:
    p = SmtpServerProtocol(hostname="mx.test", **kw)
    assert p.greeting().encode() == b"220 mx.test ESMTP Switchboard\r\n"
    return p


def test_a_message_pipelined_with_dot_unstuffing() -> None:
    p = session()
    out = p.feed(b"EHLO client.test\r\nMAIL FROM:<ada@example.com>\r\nRCPT TO:<support@example.com>\r\n"
                 b"RCPT TO:<sales@example.com>\r\nDATA\r\n")
    assert codes(out) == [250, 250, 250, 250, 354]
    assert out[0].encode() == (b"250-mx.test greets client.test\r\n250-SIZE 10485760\r\n250-8BITMIME\r\n"
                               b"250 PIPELINING\r\n")
    out = p.feed(b"Subject: hi\r\n\r\n..leading dot\r\n..\r\n...two\r\nlast\r\n.\r\nNOOP\r\nQUIT\r\n")
    assert codes(out) == ["envelope"]
    envelope = out[0]
    assert isinstance(envelope, Envelope)
    assert envelope.mail_from == "ada@example.com"
    assert envelope.rcpt_to == ("support@example.com", "sales@example.com")
    assert envelope.data == b"Subject: hi\r\n\r\n.leading dot\r\n.\r\n..two\r\nlast\r\n"
    assert p.state == "delivering"
    out = p.delivered(250, "queued")  # the held NOOP and QUIT run now
    assert codes(out) == [250, 250, 221] and out[0] == Reply(250, ("queued",))
    assert p.closed and p.feed(b"NOOP\r\n") == []


def test_bytes_split_anywhere_give_the_same_result() -> None:
    p = session()
    stream = b"HELO c\r\nMAIL FROM:<>\r\nRCPT TO:<s@e.com>\r\nDATA\r\nx\r\n..y\r\n.\r\n"
    out: list[Reply | Envelope] = []
    for i in range(len(stream)):
        out.extend(p.feed(stream[i:i + 1]))
    assert codes(out) == [250, 250, 250, 354, "envelope"]
    assert out[-1] == Envelope("", ("s@e.com",), b"x\r\n.y\r\n")


def test_bad_sequences_and_syntax() -> None:
    p = session()
    assert codes(p.feed(b"MAIL FROM:<a@b.c>\r\n")) == [503]  # before EHLO
    assert codes(p.feed(b"EHLO\r\n")) == [501]
    assert codes(p.feed(b"EHLO c\r\n")) == [250]
    assert codes(p.feed(b"RCPT TO:<s@e.com>\r\n")) == [503]  # before MAIL
    assert codes(p.feed(b"DATA\r\n")) == [503]
    assert codes(p.feed(b"MAIL TO:<a@b.c>\r\nMAIL FROM:a@b.c\r\nMAIL FROM:<not an address>\r\n")) == [501, 501, 501]
    assert codes(p.feed(b"MAIL FROM:<a@b.c>\r\n")) == [250]
    assert codes(p.feed(b"MAIL FROM:<a@b.c>\r\n")) == [503]  # nested
    assert codes(p.feed(b"DATA\r\n")) == [554]  # no recipient yet
    assert codes(p.feed(b"RCPT TO:<nobody>\r\nRCPT TO:<s@e.com>\r\nDATA now\r\n")) == [501, 250, 501]
    assert codes(p.feed(b"RSET\r\nDATA\r\n")) == [250, 503]  # the transaction is gone
    assert codes(p.feed(b"AUTH PLAIN xx\r\nSTARTTLS\r\nHELLO\r\nVRFY x\r\n")) == [502, 502, 500, 252]
    assert codes(p.feed(b"\xff\xfe\r\n")) == [500]
    assert codes(p.feed(b"X" * 600 + b"\r\n")) == [500]
    assert codes(p.feed(b"Y" * 600)) == [500]  # no end of line in sight
    assert codes(p.feed(b"\r\nNOOP\r\n")) == [500, 250]


def test_size_limit() -> None:
    p = session(max_size=100)
    assert codes(p.feed(b"EHLO c\r\nMAIL FROM:<a@b.c> SIZE=101\r\n")) == [250, 552]
    assert codes(p.feed(b"MAIL FROM:<a@b.c> SIZE=x\r\n")) == [501]
    assert codes(p.feed(b"MAIL FROM:<a@b.c> SIZE=100\r\nRCPT TO:<s@e.com>\r\nDATA\r\n")) == [250, 250, 354]
    out = p.feed(b"A" * 60 + b"\r\n" + b"B" * 60 + b"\r\n.\r\n")
    assert codes(out) == [552] and p.state == "ready"  # read to its end, refused, no envelope
    assert codes(p.feed(b"MAIL FROM:<a@b.c>\r\nRCPT TO:<s@e.com>\r\nDATA\r\nsmall\r\n.\r\n")) == \
        [250, 250, 354, "envelope"]


def test_too_many_recipients() -> None:
    p = session(max_recipients=2)
    p.feed(b"EHLO c\r\nMAIL FROM:<a@b.c>\r\n")
    assert codes(p.feed(b"RCPT TO:<1@e.com>\r\nRCPT TO:<2@e.com>\r\nRCPT TO:<3@e.com>\r\n")) == [250, 250, 452]


async def test_idle_connection_is_closed_with_421(autojump_clock: trio.testing.MockClock) -> None:
    async def handler(envelope: Envelope) -> tuple[int, str]:
        raise AssertionError("no message expected")

    async with trio.open_nursery() as nursery:
        port = await nursery.start(serve_smtp, handler, "127.0.0.1", 0)
        stream = await trio.open_tcp_stream("127.0.0.1", port)
        received = b""
        while b"421" not in received:
            received += await stream.receive_some(1024)
        assert received.startswith(b"220 ") and b"421 switchboard idle for too long" in received
        assert trio.current_time() >= 300.0  # the idle timeout, in virtual time
        assert await stream.receive_some(1024) == b""  # closed
        await stream.aclose()
        nursery.cancel_scope.cancel()
