"""`sansfilm upgrade`: bring the ledger and the warehouse to this version's schemas, each in one transaction."""

from __future__ import annotations

from typing import Annotated

import typer

from analytics.errors import SansfilmError


def register(app: typer.Typer, settings_loader, fail) -> None:
    @app.command()
    def upgrade(
        dry_run: Annotated[bool, typer.Option("--dry-run", help="Say what would be done; change nothing.")] = False,
    ) -> None:
        """Upgrade the ledger and the warehouse to this version's schemas (a copy of each file is made first)."""
        from analytics import upgrade as upgrading

        try:
            done = upgrading.upgrade(settings_loader(), dry_run=dry_run)
        except SansfilmError as exc:
            raise fail(exc) from None
        for store in done:
            if not store.needed:
                typer.echo(f"{store.store}: {store.location}: {store.note or 'up to date'} (version {store.after})")
                continue
            verb = "would upgrade" if dry_run else "upgraded"
            typer.echo(f"{store.store}: {store.location}: {verb} from {store.before} to {store.after}")
            for step in store.steps:
                typer.echo(f"  {step}")
            if store.backup is not None:
                typer.echo(f"  copy from before: {store.backup}" + (" (would be made)" if dry_run else ""))
            if store.note:
                typer.echo(f"  {store.note}")
        if dry_run:
            typer.echo("dry run: nothing was changed")
