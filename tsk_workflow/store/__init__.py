"""The store: the only package that imports SQLAlchemy. Everything else reads and writes the
database through the functions of these modules, each of one subject, which take a ``Session``
(``Store.transaction``, ``Store.reading``) or a ``Connection`` (``Store.reading_rows``) and give
mapped rows, plain tuples or dataclasses. Outside the store those two types are named from
``store.database``, in annotations only.

- ``database``: connecting, the unit of work, the database's errors as ``TskError``s.
- ``models``, ``migrations``, ``migrate``, ``roles``, ``installation``: the schema and its
  upkeep.
- ``writes``: the statements of an act's hot path (cycles, tasks, timers, outbox rows).
- ``queries``: read-only queries of commands that must start fast (Core, no ORM).
- ``audit_chain``: the audit chain's lock, head, appends, purge, and reading it back.
- ``record``: what verifying reads besides the chain (state, documents), and the acts refused.
- ``checkpoints``: the record of the day's audit checkpoint.
- ``gdpr``: the rows a purge of personal data looks at.
- ``outbox``: claiming, marking, counting and requeueing mail; the rows of a daily digest.
- ``organisations``: the organisation versions loaded and the municipality in force.
- ``definitions``: the process definitions stored by version; the cycles an upgrade moves.
- ``reports``: the cycles and tasks a lägesbild gathers.
- ``summary``: one municipality's rows as the demo tells its year.
"""
