"""E-mail end to end on loopback: SMTP in, offered to an agent with the customer's history, threaded reply out
through a second SMTP listener acting as the relay; and the channel's configuration checks."""

from __future__ import annotations

import email
import email.policy
import smtplib
from email.message import EmailMessage
from pathlib import Path

import pytest
import trio

from engine.errors import ConfigError
from engine.events import AgentHungUp, AgentLogin, AgentReady, OfferAccepted, WrapUpDone
from engine.tomlfile import TomlFile
from plugins.builtin.email import EmailChannelPlugin, EmailSettings, Envelope, serve_smtp
from plugins.dispatch import ChannelDispatcher
from tests.admin_api.helpers import TestCrm, make_engine

TIMEOUT_S = 10.0  # safety net on the real clock (the sockets and smtplib's thread are real)


@pytest.fixture
def crm() -> TestCrm:
    return TestCrm()


def send_mail(port: int, message: EmailMessage, to: str = "support@example.com") -> None:
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as client:
        client.send_message(message, to_addrs=[to])


def customer_mail() -> EmailMessage:
    message = EmailMessage()
    message["From"] = "Ada Lovelace <Ada@Example.com>"
    message["To"] = "support@example.com"
    message["Subject"] = "Invoice 42 is wrong"
    message["Message-ID"] = "<m1@example.com>"
    message["References"] = "<m0@example.com>"
    message.set_content("Hello,\n.this line starts with a dot\n.\nthanks\n")
    return message


async def test_email_arrives_over_smtp_and_is_offered_with_history_then_reply_is_threaded(
        tmp_path: Path, crm: TestCrm) -> None:
    runtime, manager, _ = make_engine(tmp_path, crm)
    dispatcher = ChannelDispatcher(manager, ["email"])
    runtime.add_sink(dispatcher)
    plugin = manager.pm.get_plugin("email")
    assert isinstance(plugin, EmailChannelPlugin)
    relayed_in, relayed = trio.open_memory_channel[Envelope](10)

    async def relay(envelope: Envelope) -> tuple[int, str]:
        await relayed_in.send(envelope)
        return 250, "relayed"

    async with runtime.running(), trio.open_nursery() as nursery:
        with trio.fail_after(TIMEOUT_S):
            relay_port = await nursery.start(serve_smtp, relay, "127.0.0.1", 0)
            plugin.settings = EmailSettings(listen_port=0, smtp_port=relay_port, from_address="support@example.com",
                                            queues={"Support@Example.com".lower(): "email"}, default_queue="nope")
            plugin.attach(runtime, manager, dispatcher)
            port = await nursery.start(plugin.serve)
            await runtime.submit(AgentLogin("a1"))
            await runtime.submit(AgentReady("a1"))
            offers = plugin.subscribe("a1")

            await trio.to_thread.run_sync(send_mail, port, customer_mail())
            offer = await offers.receive()
            contact_id = offer["contact_id"]
            assert (offer["type"], offer["channel"], offer["queue"]) == ("offer", "email", "email")
            assert offer["customer"] == "ada@example.com" and offer["subject"] == "Invoice 42 is wrong"
            assert offer["body"] == "Hello,\n.this line starts with a dot\n.\nthanks\n"  # dot-unstuffed
            assert offer["customer_record"]["name"] == "Ada Lovelace"
            assert offer["history"] == [{"channel": "voice", "summary": "called about an invoice (ada@example.com)",
                                         "disposition": "resolved"}]

            await runtime.submit(OfferAccepted("a1", contact_id))
            reply_id = await plugin.reply(contact_id, "We corrected invoice 42.")
            envelope = await relayed.receive()
            assert envelope.mail_from == "support@example.com" and envelope.rcpt_to == ("ada@example.com",)
            reply = email.message_from_bytes(envelope.data, policy=email.policy.default)
            assert reply["Subject"] == "Re: Invoice 42 is wrong"
            assert reply["In-Reply-To"] == "<m1@example.com>"
            assert reply["References"] == "<m0@example.com> <m1@example.com>"
            assert reply["Message-ID"] == reply_id
            assert reply.get_content().strip() == "We corrected invoice 42."

            await runtime.submit(AgentHungUp("a1", contact_id))
            assert (await offers.receive()) == {"type": "ended", "contact_id": contact_id, "reason": "agent-hangup"}
            await runtime.submit(WrapUpDone("a1", contact_id, "resolved"))
            record = await crm.next_record()
            assert record.contact_id == contact_id and record.channel == "email"
            assert record.data["message_id"] == "<m1@example.com>"
            assert record.data["email"]["replies"][0]["text"] == "We corrected invoice 42."
            assert plugin.threads == {}

            # Mail to an address no queue is configured for goes to the default queue, here an unknown one: the
            # engine refuses the contact, and the sender gets a temporary failure (its MTA will retry).
            with pytest.raises(smtplib.SMTPDataError) as refused:
                await trio.to_thread.run_sync(send_mail, port, customer_mail(), "other@example.com")
            assert refused.value.smtp_code == 451 and b"unknown queue" in refused.value.smtp_error.lower()
            assert plugin.threads == {}
        nursery.cancel_scope.cancel()


def test_settings_from_a_toml_file_name_file_line_and_key(tmp_path: Path) -> None:
    good = tmp_path / "center.toml"
    good.write_text('[plugins.email]\nlisten_port = 2526\nfrom_address = "help@example.com"\n'
                    '[plugins.email.queues]\n"Sales@Example.com" = "sales-email"\n')
    settings = EmailSettings.load(good)
    assert settings.listen_port == 2526 and settings.listen_host == "127.0.0.1"
    assert settings.queue_for(["x@example.com", "SALES@example.com"]) == "sales-email"
    assert settings.queue_for(["x@example.com"]) == "email"

    cases = {
        '[plugins.email]\nlisten_port = 25\nlisten_prot = 26\n':
            "3: plugins.email.listen_prot: unknown key (allowed: ",
        '[plugins.email]\n\nsmtp_port = "25"\n': "3: plugins.email.smtp_port: expected a whole number, got '25'",
        '[plugins.email]\nsmtp_port = 70000\n': "2: plugins.email.smtp_port: not a port number: 70000",
        '[plugins.email]\nlisten_port = true\n': "2: plugins.email.listen_port: expected a whole number",
        '[plugins.email]\nfrom_address = "nobody"\n': "2: plugins.email.from_address: not an e-mail address",
        '[plugins.email.queues]\n"a@b.c" = 3\n': "2: plugins.email.queues.a@b.c: expected a queue name, got 3",
        '[plugins.email]\nqueues = "x"\n': "2: plugins.email.queues: expected a table of address = queue",
    }
    for text, expected in cases.items():
        bad = tmp_path / "bad.toml"
        bad.write_text(text)
        with pytest.raises(ConfigError) as info:
            EmailSettings.load(bad)
        assert str(info.value).startswith(f"{bad}:{expected}"), str(info.value)


def test_settings_from_a_mapping() -> None:
    assert EmailSettings.from_config({}) == EmailSettings()
    with pytest.raises(ConfigError, match=r"^plugins\.email\.default_queue: expected a non-empty string"):
        EmailSettings.from_config({"plugins": {"email": {"default_queue": ""}}})
    with pytest.raises(ConfigError, match=r"^plugins\.email: expected a table"):
        EmailSettings.from_config({"plugins": {"email": ["x"]}})


def test_configure_hook_reads_the_engine_config_file_with_lines() -> None:
    plugin = EmailChannelPlugin()
    good = TomlFile.parse('[plugins.email]\nlisten_port = 2600\n', "center.toml")
    plugin.switchboard_configure(config={"plugins": good.data["plugins"], "config_file": good})
    assert plugin.settings.listen_port == 2600
    bad = TomlFile.parse('[plugins]\nload = []\n\n[plugins.email]\nlisten_port = "x"\n', "center.toml")
    with pytest.raises(ConfigError, match=r"^center\.toml:5: plugins\.email\.listen_port: expected a whole number"):
        plugin.switchboard_configure(config={"plugins": bad.data["plugins"], "config_file": bad})
    plugin.switchboard_configure(config={"plugins": {"email": {"smtp_port": 2526}}})  # no file: a plain mapping
    assert plugin.settings.smtp_port == 2526 and plugin.settings.listen_port == 2525
