"""`perfloop token --as E012 [--role hrbp --department Sales] [--ttl 8h]`: a development
bearer token.

The token goes to stdout alone, so that `TOKEN=$(perfloop token --as E012)` works; what
it grants goes to stderr. Tokens are signed with `PERFLOOP_HOME/dev-signing.key` (made on
first use) and are refused by an API running with `PERFLOOP_ENVIRONMENT=production`.
"""

from __future__ import annotations

from typing import Annotated

import typer

from perfloop.cli_output import note


def token(
    subject: Annotated[
        str,
        typer.Option("--as", metavar="EMPLOYEE_ID", help="Employee id the token speaks for."),
    ],
    role: Annotated[
        list[str] | None,
        typer.Option(
            "--role",
            metavar="ROLE",
            help="Extra role: hr-admin, hrbp or ops (repeatable; employee is always included).",
        ),
    ] = None,
    department: Annotated[
        list[str] | None,
        typer.Option(
            "--department",
            metavar="NAME",
            help="A department an HRBP partners (repeatable); goes in the `departments` claim.",
        ),
    ] = None,
    ttl: Annotated[
        str, typer.Option("--ttl", help="Lifetime, e.g. 8h, 30m, 1h30m, 2d (at most 30d).")
    ] = "8h",
) -> None:
    """Print a development API token for an employee (not accepted in production)."""
    from api.auth import (
        AuthError,
        Role,
        issue_dev_token,
        key_path,
        normalise_departments,
        normalise_roles,
        parse_ttl,
    )
    from perfloop.settings import get_settings

    settings = get_settings()
    lifetime = parse_ttl(ttl)
    roles = normalise_roles(role or ())
    departments = normalise_departments(department or ())
    if departments and Role.HRBP not in roles:
        raise AuthError("--department is for HRBP tokens: add --role hrbp")
    value = issue_dev_token(settings, subject, roles, departments=departments, ttl=lifetime)
    typer.echo(value)
    partners = f", partnering {', '.join(departments)}" if departments else ""
    note(
        f"token for {subject} with roles {', '.join(roles)}{partners}, valid for {ttl}; "
        f"signed with {key_path(settings)}"
    )
