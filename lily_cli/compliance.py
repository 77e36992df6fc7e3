"""`lily compliance export SLUG [--since DATE] [--format csv|json]`: the opt-out ledger."""

from __future__ import annotations

import csv
import sys
from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Annotated

import typer

from lily_cli.common import SlugArgument, container, new_app, print_json
from lily_core.errors import InvalidInput

compliance_app = new_app("Compliance records: the opt-out ledger.")


class ExportFormat(StrEnum):
    CSV = "csv"
    JSON = "json"


def _since(raw: str | None) -> datetime | None:
    """A date (midnight UTC) or an ISO 8601 time (UTC if it names no offset)."""
    if raw is None:
        return None
    try:
        if len(raw.strip()) == 10:
            day = date.fromisoformat(raw.strip())
            return datetime(day.year, day.month, day.day, tzinfo=UTC)
        at = datetime.fromisoformat(raw.strip())
    except ValueError:
        raise InvalidInput(
            f"{raw!r} is not a date (YYYY-MM-DD) or ISO time", field="since"
        ) from None
    return at if at.tzinfo else at.replace(tzinfo=UTC)


@compliance_app.command("export")
def export(
    slug: SlugArgument,
    since: Annotated[
        str | None,
        typer.Option("--since", metavar="DATE", help="From this date (UTC) or ISO time on."),
    ] = None,
    fmt: Annotated[
        ExportFormat, typer.Option("--format", metavar="FORMAT", help="csv (default) or json.")
    ] = ExportFormat.CSV,
) -> None:
    """Every opt-out and opt-in of the tenant's customers, oldest first, with its evidence
    (the keyword, Twilio's OptOutType or the carrier's error), message SID, time and channel;
    records of deleted leads included."""
    # here, not at the top: it loads the core's ports, which `lily --help` does not need
    from lily_core.use_cases.consent_export import LEDGER_FIELDS, ledger_row

    records = container().export_consent_ledger()(slug, _since(since))
    rows = [ledger_row(record) for record in records]
    if fmt == ExportFormat.JSON:
        print_json(rows)
        return
    writer = csv.DictWriter(sys.stdout, fieldnames=LEDGER_FIELDS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
