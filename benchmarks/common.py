"""What the benchmarks share: timing, the machine, fresh databases, generated organisations.

Nothing here is timed itself. Each benchmark prints its own figures and the ratios against its
baselines, which run in the same process (or the same run) on the same machine.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import gc
import os
import platform
import secrets
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, make_url, text
from sqlalchemy.pool import NullPool

from tsk_workflow.calendar import STOCKHOLM
from tsk_workflow.catalog import Catalog, load_catalog, shipped_municipality_files
from tsk_workflow.definitions.reader import Document, read_file
from tsk_workflow.definitions.validate import load_process_document
from tsk_workflow.organisation.model import Organisation
from tsk_workflow.organisation.validate import load_organisation_document
from tsk_workflow.store import migrate
from tsk_workflow.store.database import Store, make_engine

ROOT = Path(__file__).resolve().parent.parent
PG_URL = os.environ.get(
    "TSK_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
REPEATS = int(os.environ.get("TSK_BENCH_REPEATS", "5"))
"""How many times each measurement is repeated; the median is reported."""


# ---------------------------------------------------------------- timing and printing


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values))


def timed(function: Callable[[], Any]) -> float:
    """Seconds ``function`` takes, with the garbage collector run before (not during) it."""
    gc.collect()
    start = time.perf_counter()
    function()
    return time.perf_counter() - start


def machine() -> str:
    """One line saying where the figures come from."""
    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    import sqlite3

    import sqlalchemy

    return (
        f"{platform.system()} {platform.release()}, {os.cpu_count()} cores ({cpu}), "
        f"Python {platform.python_version()}, SQLAlchemy {sqlalchemy.__version__}, "
        f"SQLite {sqlite3.sqlite_version}"
    )


def header(title: str) -> None:
    print(f"== {title}")
    print(f"   machine: {machine()}")
    print("   figures are medians of repeated runs (see each benchmark's --help)")
    sys.stdout.flush()


MET = 0
NOT_MET = 3
"""A benchmark's exit status when it ran but missed a target (1 is left to a crash)."""
SKIPPED = 4
"""A benchmark's exit status when it could not run here (PostgreSQL not reachable)."""


def outcome(ok: bool) -> int:
    """The exit status for targets met (``ok``) or not."""
    return MET if ok else NOT_MET


def verdict(name: str, value: float, target: float, *, at_least: bool = True) -> bool:
    """Print ``name: value (target ...) ok|NOT MET`` and say whether it is met."""
    met = value >= target if at_least else value <= target
    sign = ">=" if at_least else "<="
    print(f"   {name}: {value:.2f} (target {sign} {target:g}) {'ok' if met else 'NOT MET'}")
    sys.stdout.flush()
    return met


def local(day: dt.date, hour: int = 8, minute: int = 0) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=STOCKHOLM).astimezone(dt.UTC)


# ---------------------------------------------------------------- databases


@contextlib.contextmanager
def temp_dir(prefix: str = "tsk-bench-") -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix=prefix) as name:
        yield Path(name)


def sqlite_store(folder: Path, name: str = "tsk.db") -> Store:
    """A fresh SQLite database in ``folder``, migrated to head."""
    store = Store(f"sqlite:///{folder / name}")
    migrate.upgrade(store)
    return store


@contextlib.contextmanager
def pg_schema() -> Iterator[str]:
    """A fresh PostgreSQL schema (as ``tests/dbfixtures.py`` makes them); yields its URL."""
    schema = f"bench_{secrets.token_hex(6)}"
    admin = create_engine(PG_URL, poolclass=NullPool, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f"CREATE SCHEMA {schema}"))
    url = (
        make_url(PG_URL)
        .update_query_dict({"options": f"-csearch_path={schema}"})
        .render_as_string(hide_password=False)
    )
    try:
        yield url
    finally:
        with admin.connect() as connection:
            connection.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
        admin.dispose()


def pg_store(url: str, *, migrated: bool = True) -> Store:
    store = Store(url, make_engine(url))
    if migrated:
        migrate.upgrade(store)
    return store


def pg_available() -> str | None:
    """Why PostgreSQL cannot be used, or None."""
    engine = create_engine(PG_URL, poolclass=NullPool, connect_args={"connect_timeout": 5})
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except Exception as exc:  # noqa: BLE001 - any reason is a reason to skip
        return str(exc).splitlines()[0]
    finally:
        engine.dispose()
    return None


# ---------------------------------------------------------------- definitions and organisations


def definition_from_text(text_: str, file: str = "bench.yaml") -> Any:
    """A process definition from YAML text, validated as a shipped one is."""
    from tsk_workflow.definitions.reader import YamlReader

    document = YamlReader().read(text_, file)
    definition, problems = load_process_document(document)
    if definition is None:
        raise SystemExit("\n".join(str(p) for p in problems))
    return definition


def catalog_with(*extra: Any) -> Catalog:
    """The shipped catalog, with benchmark-only definitions added."""
    shipped = load_catalog()
    return Catalog({**shipped.definitions, **{d.key: d for d in extra}})


def organisation(data: dict[str, Any], catalog: Catalog, file: Path) -> Organisation:
    """An organisation from plain data, validated against ``catalog`` as ``tsk`` does."""
    org, problems = load_organisation_document(Document(str(file), data), catalog.definitions)
    if org is None:
        raise SystemExit("\n".join(str(p) for p in problems))
    return org


def seed_data() -> dict[str, dict[str, Any]]:
    """The four shipped municipalities as plain data, by key."""
    found: dict[str, dict[str, Any]] = {}
    for path in shipped_municipality_files():
        data = _plain(read_file(path).data)
        found[str(data["municipality"])] = data
    return found


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return value


def clone_org(data: dict[str, Any], number: int) -> dict[str, Any]:
    """A copy of a seed organisation under a new key, with new people ids and e-mail addresses.

    Every reference to a person (group chairs, deputies and members, secretaries) follows.
    """
    old_key = str(data["municipality"])
    key = f"k{number:03d}_{old_key}"
    ids = {str(p["id"]): f"{p['id']}.{number:03d}" for p in data["people"]}

    def rename(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: rename(v) for k, v in value.items()}
        if isinstance(value, list):
            return [rename(v) for v in value]
        if isinstance(value, str) and value in ids:
            return ids[value]
        return value

    copy = rename(data)
    copy["municipality"] = key
    copy["name"] = f"Kommun {number:03d} ({data['name']})"
    for person in copy["people"]:
        local_part, domain = str(person["email"]).split("@", 1)
        person["email"] = f"{local_part}.{number:03d}@{key.replace('_', '-')}.example.org"
    mail = dict(copy.get("mail", {}))
    mail["sender"] = f"trygghet@{key.replace('_', '-')}.example.org"
    mail.pop("templates", None)
    copy["mail"] = mail
    return copy


# ---------------------------------------------------------------- bulk rows for the setup


def bulk_cycles(
    store: Store,
    municipality: str,
    cycles: int,
    *,
    tasks_per_cycle: int,
    now: dt.datetime,
    task_due: dt.datetime,
    timers: Callable[[int, dt.datetime], list[tuple[str, str, dt.datetime]]],
    assignees: Sequence[str] = ("jessica.wahlstrom", "hanna.nyberg"),
    prefix: str = "bulk",
    chunk: int = 2_000,
) -> int:
    """``cycles`` open EST cycles (step ``sammanstallning``) with ``tasks_per_cycle`` open tasks
    each (``sammanstall_lagesbild``, due ``task_due``, two assignees), written in bulk with Core;
    ``timers(task_id, task_due)`` gives each task's timers as (key suffix, kind, fire_at).
    Returns the number of timers made."""
    from sqlalchemy import insert, select

    from tsk_workflow.store.models import Cycle, Task, TaskAssignee, Timer

    made = 0
    for first in range(0, cycles, chunk):
        numbers = range(first, min(cycles, first + chunk))
        with store.transaction() as session:
            conn = session.connection()
            conn.execute(
                insert(Cycle.__table__),
                [
                    {
                        "ref": f"est-{prefix}{n}",
                        "municipality": municipality,
                        "process": "est",
                        "process_version": 1,
                        "period": f"{prefix}{n}",
                        "subject": "",
                        "title": f"EST {prefix} {n}",
                        "state": "sammanstallning",
                        "status": "open",
                        "group_key": "est",
                        "opened_at": now,
                        "opened_by": "tsk",
                        "step_entered_at": now,
                        "forced": False,
                        "late": False,
                        "version": 1,
                    }
                    for n in numbers
                ],
            )
            table = Cycle.__table__
            ids = list(
                conn.scalars(
                    select(table.c.id).where(
                        table.c.municipality == municipality,
                        table.c.period.in_([f"{prefix}{n}" for n in numbers]),
                    )
                )
            )
            conn.execute(
                insert(Task.__table__),
                [
                    {
                        "cycle_id": cycle_id,
                        "municipality": municipality,
                        "step": "sammanstallning",
                        "key": "sammanstall_lagesbild",
                        "role": "samordnare",
                        "title": "Sammanställ lägesbilden",
                        "required": True,
                        "status": "open",
                        "created_at": now,
                        "due_at": task_due,
                    }
                    for cycle_id in ids
                    for _ in range(tasks_per_cycle)
                ],
            )
            tasks_t = Task.__table__
            task_ids = list(conn.scalars(select(tasks_t.c.id).where(tasks_t.c.cycle_id.in_(ids))))
            conn.execute(
                insert(TaskAssignee.__table__),
                [{"task_id": t, "person": p} for t in task_ids for p in assignees],
            )
            rows = [
                {
                    "key": f"task:{t}:{suffix}",
                    "kind": kind,
                    "municipality": municipality,
                    "fire_at": fire_at,
                    "status": "pending",
                    "cycle_id": None,
                    "task_id": t,
                    "payload": {},
                    "created_at": now,
                }
                for t in task_ids
                for suffix, kind, fire_at in timers(t, task_due)
            ]
            if rows:
                conn.execute(insert(Timer.__table__), rows)
            made += len(rows)
    return made
