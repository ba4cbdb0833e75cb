"""Mail: building messages, rendering templates from ``notifications/``, sending over SMTP.

- :mod:`.message`: :class:`~.message.OutgoingMail`, ``build_email``, ``header_safe``,
  ``make_message_id``
- :mod:`.render`: ``render(event, lang, context, override_dir)`` and the template context contract
- :mod:`.dates`: Swedish and English date formatting for the templates
- :mod:`.ics`: ``meeting_invitation`` (iCalendar METHOD:REQUEST)
- :mod:`.smtp`: ``SmtpSettings``, ``send_batch``, ``send_batch_sync``, ``backoff``

The outbox (database rows, claiming, retry bookkeeping) builds on these.
"""
