"""Mail: building messages, rendering templates from ``notifications/``, sending over SMTP.

- :mod:`.message`: :class:`~.message.OutgoingMail`, ``build_email`` and ``mail_bytes`` (the
  message with the standard library's ``email`` package, and as sent), ``header_safe``
  (Message-IDs and outbox rows are made by ``tsk_workflow.messages``, below mail and engine)
- :mod:`.render`: ``render(event, lang, context, override_dir)`` and the template context contract;
  every template renders in Jinja2's sandbox (``tsk_workflow.templating``)
- :mod:`.templates`: ``template_folder``, a municipality's own templates under ``TSK_TEMPLATE_ROOT``
- :mod:`.dates`: Swedish and English date formatting for the templates
- :mod:`.ics`: ``meeting_invitation`` (iCalendar METHOD:REQUEST)
- :mod:`.smtp`: ``SmtpSettings``, ``send_batch``, ``send_batch_sync``, ``backoff``
- :mod:`.outbox`: ``deliver`` (claim due rows with a lease, render, send, mark), ``status_counts``,
  ``failures``, ``retry``; rows are queued by ``tsk_workflow.engine.notify`` inside each act
- :mod:`.digest`: ``compose_digests``, ``compose_due_digests``: the daily digest

``docs/mail.md`` describes settings, digest, templates, guarantees and ``tsk mail``.
"""
