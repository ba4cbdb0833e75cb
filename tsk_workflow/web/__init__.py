"""The service of ``tsk serve``: the JSON API, sign-in, the links in mail and the pages.

It parses and presents, as the CLI does; the engine decides and checks permissions. Layers:
``config`` (settings) → ``state`` (the database and its engines) → ``sessions``, ``deps``
(who is acting) → ``api``, ``auth``, ``docs`` (the routes) → ``app`` (put together).
"""
