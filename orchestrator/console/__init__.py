"""The operator console: a separate, read-only web process over state.db (``orchestrator console``).

Pages (overview, plan, report) are rendered on the server with Jinja2 and kept live with htmx
over server-sent events; a JSON API lives under ``/api/``. Everything is read through
:mod:`orchestrator.console.data`; the only write is a trader command row
(:func:`orchestrator.store.commands.submit_command`), and only with ``[console] controls = true``.
Importing this package imports nothing heavy: the web app is in :mod:`.app`.
"""
