"""``tsk org``: the organisation (municipality) as loaded and checked."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

import click

from tsk_workflow import i18n
from tsk_workflow.cli import runtime, views
from tsk_workflow.cli.context import TskGroup, emit_json, json_option, settings
from tsk_workflow.i18n import N_, _

if TYPE_CHECKING:
    from tsk_workflow.catalog import Catalog
    from tsk_workflow.engine.setup import StoredVersion
    from tsk_workflow.organisation.model import (
        ComplianceSettings,
        Decided,
        Organisation,
        Policy,
        RuleCondition,
        Samordningsfunktion,
    )
    from tsk_workflow.store.database import Store


@click.group(
    cls=TskGroup,
    help=N_("The organisation: people, roles, groups, towns; its versions loaded, and a new one."),
)
def org() -> None:
    pass


@org.command(help=N_("People, roles, groups, towns and areas of the organisation (--org)."))
@json_option
@click.pass_context
def show(ctx: click.Context, as_json: bool) -> None:
    from tsk_workflow.catalog import load_organisation

    organisation = load_organisation(settings(ctx).require_org())
    if as_json:
        emit_json(
            views.organisation_json(organisation)
            | _routing_json(organisation)
            | law_json(organisation)
        )
    else:
        click.echo(views.organisation_text(organisation))
        click.echo("\n".join(_routing_text(organisation)))
        click.echo("\n".join(law_text(organisation)))


# ---------------------------------------------------------------- what the law asks


def law_json(org: Organisation) -> dict[str, object]:
    """The samordningsfunktion, the policy documents (with their next follow-up and revision)
    and the compliance settings (each marked ``chosen`` when the file sets it)."""
    function = org.samordningsfunktion
    return {
        "samordningsfunktion": function.model_dump(mode="json") if function else None,
        "policies": [
            policy.model_dump(mode="json")
            | {
                "next_follow_up": _iso(policy.next_follow_up),
                "next_revision": _iso(policy.next_revision),
            }
            for policy in org.policies
        ],
        "compliance": {
            name: {"value": value, "chosen": name in org.compliance.model_fields_set}
            for name, value in org.compliance.model_dump(mode="json").items()
        },
    }


def _iso(day: dt.date | None) -> str | None:
    return day.isoformat() if day else None


def law_text(org: Organisation) -> list[str]:
    """What ``tsk org show`` adds after the people and groups: the samordningsfunktion, the
    policy documents and the municipality's choices of cadence."""
    lines = ["", _("Samordningsfunktion (Lag 2023:196):")]
    function = org.samordningsfunktion
    lines += _function_lines(org, function) if function else ["  " + _("none named")]
    if org.policies:
        lines += ["", _("Policy documents:")]
        for policy in org.policies:
            lines += _policy_lines(policy)
    lines += ["", _("Cadences the municipality chooses (the law leaves them open):")]
    lines += _compliance_lines(org.compliance)
    return lines


def _function_lines(org: Organisation, function: Samordningsfunktion) -> list[str]:
    lang = i18n.language()
    people = []
    for holder in function.holders:
        person = org.person(holder)
        people.append(f"{holder} ({person.name})" if person else holder)
    contact = function.contact
    ways = ", ".join(way for way in (contact.email, contact.phone, contact.web) if way)
    lines = [
        "  " + _("held by {people}").format(people=", ".join(people) or "-"),
        "  " + _("contact: {ways}").format(ways=ways or "-"),
    ]
    if contact.note is not None:
        lines.append(f"    {contact.note.get(lang)}")
    if function.decided is not None:
        lines.append("  " + _("decided: {decision}").format(decision=function.decided.text()))
    if function.description is not None:
        lines.append(f"  {function.description.get(lang)}")
    return lines


def _policy_lines(policy: Policy) -> list[str]:
    kind = f" ({policy.kind})" if policy.kind else ""
    lines = [f"  {policy.key:<28} {policy.title.get(i18n.language())}{kind}"]
    lines.append(
        "    " + _decided(policy.decided) + "; " + _("owner {owner}").format(owner=policy.owner)
    )
    if policy.follow_up is None:
        follow = _("no follow-up")
    else:
        follow = _("followed up every {period}, last {last}, next {next}").format(
            period=policy.follow_up,
            last=_iso(policy.last_followed_up) or "-",
            next=_iso(policy.next_follow_up) or "-",
        )
    if policy.revise == "vid_behov":
        revise = _("revised on demand, last {last}").format(last=_iso(policy.last_revised) or "-")
    else:
        revise = _("revised every {period}, last {last}, next {next}").format(
            period=policy.revise,
            last=_iso(policy.last_revised) or "-",
            next=_iso(policy.next_revision) or "-",
        )
    lines.append(f"    {follow}; {revise}")
    return lines


def _decided(decided: Decided | None) -> str:
    if decided is None:
        return _("no decision recorded")
    return _("decided: {decision}").format(decision=decided.text())


COMPLIANCE_WORDS = {
    "lagesbild_renewal": N_(
        "the strategic lägesbild is renewed at least every {period} (the law's text we have sets"
        " no interval)"
    ),
    "followup_interval": N_("the action plan is followed up at least every {period}"),
    "plan_renewal": N_("the action plan is decided anew at least every {period}"),
}
"""What each compliance setting means, as ``tsk org show`` says it."""


def _compliance_lines(chosen: ComplianceSettings) -> list[str]:
    lines = []
    for name, value in chosen.model_dump(mode="json").items():
        origin = _("chosen") if name in chosen.model_fields_set else _("default")
        words = _(COMPLIANCE_WORDS[name]).format(period=value)
        lines.append(f"  {name:<20} {words} ({origin})")
    return lines


def _routing_json(org: Organisation) -> dict[str, object]:
    """The bodies and the routing rules, each rule marked ``example`` when it is one."""
    bodies = {
        key: {
            "name": body.name,
            "meets": body.meets,
            "lead_time": body.lead_time if body.meets else None,
            "secretary": body.secretary,
            "group": body.group,
            "recorders": list(body.recorders),
        }
        for key, body in org.bodies.items()
    }
    rules = [
        {
            "name": rule.name,
            "when": rule.when.model_dump(mode="json", exclude_none=True),
            "to": rule.to,
            "reason": {"sv": rule.reason.sv, "en": rule.reason.en},
            "example": rule.example,
        }
        for rule in org.routing.rules
    ]
    return {"bodies": bodies, "routing": {"rules": rules, "default": org.routing.default}}


def _routing_text(org: Organisation) -> list[str]:
    """The bodies, then the rules in the order they are tried, an example rule marked."""
    from tsk_workflow.routing import EXAMPLE

    lines = ["", _("Bodies:")]
    for key, body in org.bodies.items():
        how = (
            _("meets, lead time {lead_time}").format(lead_time=body.lead_time)
            if body.meets
            else _("decides without a meeting")
        )
        chair = _("the chair of {group}").format(group=body.group) if body.group else None
        named = [p for p in (body.secretary, chair, *body.recorders) if p]
        who = "; " + _("records: {who}").format(who=", ".join(named)) if named else ""
        lines.append(f"  {key:<11} {body.name}: {how}{who}")
    lines += ["", _("Routing (the first rule that matches decides):")]
    width = max((len(rule.name) for rule in org.routing.rules), default=0)
    for rule in org.routing.rules:
        when = ", ".join(_condition(rule.when))
        mark = f"  [{_(EXAMPLE)}]" if rule.example else ""
        lines.append(f"  {rule.name:<{width}}  -> {rule.to:<11} {when}{mark}")
    default = org.routing.default or "-"
    lines.append("  " + _("otherwise -> {body}").format(body=default))
    return lines


def _condition(when: RuleCondition) -> list[str]:
    """A rule's conditions as short phrases (``Cost > 200 000 kr``, ``policy=ja``: a key and
    its value as written on the command line)."""
    from tsk_workflow.routing import sek

    cost = _("Cost")
    phrases = [f"{cost} > {sek(when.cost_over)}"] if when.cost_over is not None else []
    if when.cost_at_least is not None:
        phrases.append(f"{cost} >= {sek(when.cost_at_least)}")
    phrases += [f"{k}={v}" for k, v in (when.attr or {}).items()]
    phrases += [_("'{key}' given").format(key=k) for k in when.attr_given or ()]
    phrases += [f"{k}>={v:g}" for k, v in (when.attr_at_least or {}).items()]
    return phrases


@org.command(
    help=N_("Load FILE as the new version of the organisation in force (its admins only, --as).")
)
@click.argument("file", metavar="FILE")
@json_option
@click.pass_context
def load(ctx: click.Context, file: str, as_json: bool) -> None:
    from tsk_workflow.catalog import load_catalog, organisation_from_text
    from tsk_workflow.engine import setup

    store = runtime.open_store(ctx)
    catalog = load_catalog()
    current = _current(ctx, store, catalog, file)
    read = runtime.read_organisation_file(file)
    new = organisation_from_text(read.text, read.name, catalog)
    clock = runtime.clock(store)
    acting = runtime.engine_for(store, catalog, current, clock)
    who = runtime.actor(ctx, acting)
    loaded = setup.load(store, catalog, current, read, new, who, clock, via=acting.via)
    if as_json:
        emit_json(loaded.to_dict())
        return
    if not loaded.changed:
        click.echo(
            _("The organisation {name} is unchanged (version {version}).").format(
                name=loaded.name, version=loaded.version
            )
        )
        return
    click.echo(
        _("The organisation {name} is loaded as version {version}:").format(
            name=loaded.name, version=loaded.version
        )
    )
    for change in loaded.changes:
        click.echo(f"  {change[settings(ctx).lang]}")


def _current(ctx: click.Context, store: Store, catalog: Catalog, file: str) -> Organisation:
    """The organisation in force that the new file replaces: --org's, or else the one whose
    key the file has."""
    name = settings(ctx).org
    if not name:
        from tsk_workflow.catalog import organisation_from_text

        read = runtime.read_organisation_file(file)
        name = organisation_from_text(read.text, read.name, catalog).municipality
    return runtime.organisation_in_force(store, catalog, name)


@org.command(
    help=N_("Every version of the organisation loaded into the database: who, when, what changed.")
)
@json_option
@click.pass_context
def history(ctx: click.Context, as_json: bool) -> None:
    from tsk_workflow.calendar import STOCKHOLM
    from tsk_workflow.engine import setup

    store = runtime.open_store(ctx)
    key = runtime.organisation_in_force(store, _catalog(), settings(ctx).org).municipality
    rows = setup.history(store, key)
    lang = settings(ctx).lang
    if as_json:
        emit_json([_history_json(version, payload) for version, payload in rows])
        return
    for version, payload in rows:
        when = version.loaded_at.astimezone(STOCKHOLM).strftime("%Y-%m-%d %H:%M")
        number = _("version {version}").format(version=version.version)
        click.echo(
            f"{number}  {when}  {version.loaded_by} ({version.os_user})"
            f"  {version.source}  sha256 {version.digest[:16]}"
        )
        for change in _changes(payload):
            click.echo(f"    {change.get(lang, change.get('sv', ''))}")


def _catalog() -> Catalog:
    from tsk_workflow.catalog import load_catalog

    return load_catalog()


def _changes(payload: object) -> list[dict[str, str]]:
    """The changes the load's audit event recorded (none when its payload is gone)."""
    if not isinstance(payload, dict):
        return []
    found = payload.get("changes")
    return [c for c in found if isinstance(c, dict)] if isinstance(found, list) else []


def _history_json(version: StoredVersion, payload: object) -> dict[str, object]:
    return {
        "municipality": version.municipality,
        "version": version.version,
        "digest": version.digest,
        "source": version.source,
        "loaded_by": version.loaded_by,
        "os_user": version.os_user,
        "loaded_at": version.loaded_at.isoformat(),
        "audit_seq": version.audit_seq,
        "changes": _changes(payload),
    }


@org.command(
    help=N_("Print the organisation file in force (or --version N) as it was loaded, to edit it.")
)
@click.option(
    "--version",
    "number",
    type=click.IntRange(min=1),
    help=N_("This version (default: the one in force)"),
)
@click.pass_context
def export(ctx: click.Context, number: int | None) -> None:
    from tsk_workflow.engine import setup
    from tsk_workflow.errors import NotFound

    store = runtime.open_store(ctx)
    key = runtime.organisation_in_force(store, _catalog(), settings(ctx).org).municipality
    rows = [version for version, _payload in setup.history(store, key)]
    chosen = rows[-1] if number is None else next((v for v in rows if v.version == number), None)
    if chosen is None:
        raise NotFound(
            _("{key} has no version {number} (versions 1 to {last})").format(
                key=key, number=number, last=len(rows)
            )
        )
    click.echo(chosen.content, nl=False)
