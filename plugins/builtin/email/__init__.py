"""The e-mail channel: an SMTP listener (``smtp_server``), its settings (``settings``) and the adapter
(``plugin.EmailChannelPlugin``, plugin name ``"email"``)."""

from __future__ import annotations

from plugins.builtin.email.plugin import CHANNEL, NAME, EmailChannelPlugin, EmailError, build_reply, parse_message
from plugins.builtin.email.settings import EmailSettings
from plugins.builtin.email.smtp_server import Envelope, Reply, SmtpServerProtocol, serve_smtp

__all__ = ["CHANNEL", "NAME", "EmailChannelPlugin", "EmailError", "EmailSettings", "Envelope", "Reply",
           "SmtpServerProtocol", "build_reply", "parse_message", "serve_smtp"]
