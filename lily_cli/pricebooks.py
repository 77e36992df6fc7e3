from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml

from lily_cli.common import JsonFlag, SlugArgument, container, new_app, print_json
from lily_core.domain.money import format_range
from lily_core.domain.pricebook import PriceBook
from lily_core.errors import InvalidInput

pricebook_app = new_app("Show, export, import and edit a tenant's price book.")


def load_document(path: Path) -> Any:
    """Parse a YAML or JSON price-book file; errors name the file and line."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InvalidInput(f"cannot read {path}: {exc.strerror}", field="FILE") from None
    try:
        if path.suffix.lower() == ".json":
            return json.loads(text)
        return yaml.safe_load(text)
    except json.JSONDecodeError as exc:
        raise InvalidInput(f"{path}, line {exc.lineno}: {exc.msg}", field="FILE") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark is not None else "somewhere"
        problem = getattr(exc, "problem", None) or str(exc)
        raise InvalidInput(f"{path}, {where}: {problem}", field="FILE") from None


def _current(slug: str) -> tuple[int, dict[str, Any]]:
    # here, not at the top: the use cases load the core's ports, which `--help` does not need
    from lily_core.use_cases.pricebooks import current_pricebook
    from lily_core.use_cases.tenants import find_tenant

    uow = container().uow()
    with uow:
        tenant = find_tenant(uow, slug)
        version = current_pricebook(uow, tenant.id)
    return version.version, version.document


@pricebook_app.command("show")
def show(slug: SlugArgument, as_json: JsonFlag = False) -> None:
    """Summarize the current price book."""
    version, doc = _current(slug)
    if as_json:
        print_json({"version": version, **doc})
        return
    area = doc["service_area"]
    typer.echo(
        f"version {version} · {doc['currency']} · minimum {doc['minimum_charge']} · "
        f"rounded to {doc['round_to']}"
    )
    typer.echo(
        f"service area: {area['radius_miles']} mi around {area['base_zip']}, "
        f"{area['free_miles']} mi free, then {area['travel_fee_per_mile']}/mi"
    )
    book = PriceBook.from_document(doc)
    for s in book.services:
        price = format_range(s.low_cents, s.high_cents, book.currency)
        typer.echo(f"  {s.key:<16} {price:<14} {s.name}  [{', '.join(s.keywords)}]")
    for m in book.modifiers:
        typer.echo(f"  ×{m.multiplier!s:<15} {m.name}  [{', '.join(m.keywords)}]")
    typer.echo(f"default services: {', '.join(doc['default_services']) or '(none)'}")


@pricebook_app.command("export")
def export(
    slug: SlugArgument,
    fmt: Annotated[str, typer.Option("--format", metavar="FORMAT", help="yaml or json.")] = "yaml",
) -> None:
    """Print the current price book as YAML (or JSON), ready to edit and import."""
    _, doc = _current(slug)
    if fmt == "json":
        print_json(doc)
    elif fmt == "yaml":
        typer.echo(yaml.safe_dump(doc, sort_keys=False, allow_unicode=True), nl=False)
    else:
        raise typer.BadParameter("must be yaml or json", param_hint="--format")


@pricebook_app.command("import")
def import_(
    slug: SlugArgument,
    file: Annotated[Path, typer.Argument(metavar="FILE", help="A price book, YAML or JSON.")],
) -> None:
    """Replace the price book with FILE (YAML or JSON), as a new version."""
    version = container().import_pricebook()(slug, load_document(file))
    typer.echo(f"{slug}: price book version {version.version}")


@pricebook_app.command("set-service")
def set_service(
    slug: SlugArgument,
    key: Annotated[str, typer.Argument(metavar="KEY", help="The service's key, e.g. roof.")],
    low: Annotated[float, typer.Option(metavar="AMOUNT", help="Low end, whole currency units.")],
    high: Annotated[float, typer.Option(metavar="AMOUNT", help="High end, whole currency units.")],
    keywords: Annotated[
        list[str] | None,
        typer.Option("--keywords", metavar="WORDS", help="Repeat or comma-separate."),
    ] = None,
    name: Annotated[str | None, typer.Option(metavar="NAME", help="Display name.")] = None,
) -> None:
    """Add or change one service, as a new version."""
    words = [w.strip() for k in keywords for w in k.split(",") if w.strip()] if keywords else None
    version = container().set_service()(slug, key, low=low, high=high, keywords=words, name=name)
    typer.echo(f"{slug}: price book version {version.version}")
