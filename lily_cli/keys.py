"""`lily keys new|rotate|reencrypt|rotate-index|reindex`: the keys of the fields encrypted at
rest and of their blind indexes (DESIGN §6)."""

from __future__ import annotations

import base64
import sys
from typing import Annotated

import typer

from lily_cli.common import new_app

keys_app = new_app(
    "Keys of the fields encrypted at rest and of their blind indexes: make, rotate, re-encrypt,"
    " reindex."
)


@keys_app.command("new")
def new() -> None:
    """Print a fresh LILY_ENCRYPTION_KEYS and LILY_BLIND_INDEX_KEY for the environment."""
    from lily_adapters import crypto

    ring = crypto.KeyRing((("k1", crypto.new_key()),))
    blind = base64.urlsafe_b64encode(crypto.new_key()).decode().rstrip("=")
    typer.echo(f"LILY_ENCRYPTION_KEYS={crypto.format_keys(ring)}")
    typer.echo(f"LILY_BLIND_INDEX_KEY={blind}")


@keys_app.command("rotate")
def rotate() -> None:
    """Add a new key in front of the ring (it encrypts from then on; the others still
    decrypt). With LILY_ENCRYPTION_KEYS set, print the new value to set everywhere; with
    the generated ring of the embedded default, rewrite it in LILY_DATA_DIR. Restart every
    process with the new ring, then run `lily keys reencrypt`."""
    from lily_adapters import crypto
    from lily_adapters.settings import load_settings

    settings = load_settings()
    if settings.encryption_keys is not None:
        ring = crypto.parse_keys(settings.encryption_keys.get_secret_value()).rotated()
        typer.echo(f"LILY_ENCRYPTION_KEYS={crypto.format_keys(ring)}")
        typer.echo(
            f"set this everywhere Lily runs, restart, then run `lily keys reencrypt`"
            f" (new key: {ring.current_id})",
            err=True,
        )
        return
    current, _ = crypto.load_or_create(settings.data_dir)
    ring = current.rotated()
    crypto.write_keys_file(settings.data_dir, ring)
    typer.echo(
        f"added key {ring.current_id} to {crypto.keys_file(settings.data_dir)};"
        " restart Lily, then run `lily keys reencrypt`"
    )


@keys_app.command("reencrypt")
def reencrypt(
    batch: Annotated[
        int, typer.Option(min=1, max=10_000, metavar="N", help="Rows per transaction.")
    ] = 500,
) -> None:
    """Re-encrypt every row under the ring's newest key, a batch at a time, while Lily keeps
    running (a row changed meanwhile keeps its new value). Stopped, it is run again: what is
    under the newest key already is skipped. Run it once every process has the new ring."""
    from lily_adapters.sql import rekey
    from lily_cli.common import container

    c = container()
    engine, keys = c.engine(), c.field_crypto()
    total = rekey.rows_to_visit(engine)
    with typer.progressbar(length=total, label="re-encrypting", file=sys.stderr) as bar:
        done = rekey.reencrypt(engine, keys, batch=batch, progress=bar.update)
    raced = f", {done.raced} left as the service rewrote them" if done.raced else ""
    typer.echo(
        f"{done.values} values re-encrypted under key {keys.cipher.ring.current_id}"
        f" ({done.rows} rows read{raced})"
    )


@keys_app.command("rotate-index")
def rotate_index() -> None:
    """Add a new blind-index key in front (the indexes written from then on are under it;
    lookups try every key of the ring, so rows indexed under an older key are still found).
    With LILY_BLIND_INDEX_KEY set, print the new value to set everywhere; with the
    generated key of the embedded default, rewrite it in LILY_DATA_DIR. Restart every
    process with the new ring, then run `lily keys reindex`."""
    from lily_adapters import crypto
    from lily_adapters.settings import load_settings

    settings = load_settings()
    if settings.blind_index_key is not None:
        current = crypto.parse_blind_keys(settings.blind_index_key.get_secret_value())
        rotated = crypto.rotated_blind_keys(current)
        typer.echo(f"LILY_BLIND_INDEX_KEY={crypto.format_blind_keys(rotated)}")
        typer.echo(
            "set this everywhere Lily runs, restart, then run `lily keys reindex`"
            f" (new key: {rotated[0][0]})",
            err=True,
        )
        return
    _, current = crypto.load_or_create(settings.data_dir)
    rotated = crypto.rotated_blind_keys(current)
    crypto.write_blind_keys_file(settings.data_dir, rotated)
    typer.echo(
        f"added blind-index key {rotated[0][0]} to {crypto.blind_keys_file(settings.data_dir)};"
        " restart Lily, then run `lily keys reindex`"
    )


@keys_app.command("reindex")
def reindex(
    batch: Annotated[
        int, typer.Option(min=1, max=10_000, metavar="N", help="Rows per transaction.")
    ] = 500,
) -> None:
    """Recompute every blind index (leads' phone, email and search-by-digits keys, the
    consent ledger's phone) under the newest blind-index key, a batch at a time, while Lily
    keeps running. Stopped, it is run again: rows already under the newest key are left
    alone. Run it once every process has the new ring; then the older keys can go."""
    from lily_adapters.sql import rekey
    from lily_cli.common import container

    c = container()
    engine, keys = c.engine(), c.field_crypto()
    total = rekey.rows_to_reindex(engine)
    with typer.progressbar(length=total, label="reindexing", file=sys.stderr) as bar:
        done = rekey.reindex(engine, keys, batch=batch, progress=bar.update)
    indexer = keys.indexer
    typer.echo(
        f"{done.changed} rows reindexed under blind-index key {indexer.current_id}"
        f" ({done.rows} rows read)"
    )
    if len(indexer.keys) > 1:
        older = ", ".join(kid for kid, _ in indexer.keys[1:])
        typer.echo(
            f"every blind index is under {indexer.current_id} now; once no process runs"
            f" without it, drop {older} from the blind-index key ring",
            err=True,
        )
