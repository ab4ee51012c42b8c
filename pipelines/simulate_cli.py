"""`sansfilm simulate`: what a proposed tariff would have billed each establishment, next to the current one."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Annotated

import typer

from analytics.errors import SansfilmError
from analytics.periods import Month
from pipelines.output import text_table


def _month(option: str, text: str | None) -> Month | None:
    if text is None:
        return None
    try:
        return Month.parse(text)
    except ValueError:
        raise SansfilmError(f"{option} '{text}' is not a month (YYYY-MM)") from None


def register(app: typer.Typer, settings_loader, fail) -> None:
    @app.command()
    def simulate(
        tariff: Annotated[
            Path,
            typer.Option(
                "--tariff", help="Proposed tariff, same schema as framework.yaml (e.g. contracts/proposals/*.yaml)."
            ),
        ],
        first: Annotated[
            str | None,
            typer.Option("--from", help="First month, YYYY-MM (default: the first metered month of the agreement)."),
        ] = None,
        last: Annotated[
            str | None, typer.Option("--to", help="Last month, YYYY-MM (default: the last metered month).")
        ] = None,
        fmt: Annotated[str, typer.Option("--format", help="table or json.")] = "table",
    ) -> None:
        """Bill every metered month under a proposed tariff next to what was billed (issued) or drafted; writes
        nothing (docs/next-agreement.md)."""
        from analytics import warehouse
        from analytics.billing.contracts import load_contracts
        from analytics.billing.simulation import simulation_dict
        from analytics.reporting.proposals import load_proposal, simulate_published
        from analytics.reporting.scope import Viewer

        try:  # usage errors as SansfilmError, one line
            if fmt not in ("table", "json"):
                raise SansfilmError(f"--format '{fmt}' is not one of table, json")
            start, end = _month("--from", first), _month("--to", last)
            settings = settings_loader()
            contracts = load_contracts(settings)
            proposal = load_proposal(contracts, tariff)
            con = warehouse.connect_published(settings.published_path)
            try:
                simulation = simulate_published(
                    con, contracts, proposal, settings.ledger.url, Viewer("sansfilm simulate", "finance"), start, end
                )
            finally:
                con.close()
        except SansfilmError as exc:
            raise fail(exc) from None
        data = simulation_dict(simulation, str(tariff), start, end)
        partial = "".join(f"; {m} month to date, through {day}" for m, day in simulation.month_to_date.items())
        if fmt == "json":
            if partial:  # the contract's shape on stdout, the label on stderr (as `usage` does)
                typer.echo(partial.removeprefix("; ") + " (figures grow until the month ends)", err=True)
            typer.echo(json.dumps(data, indent=2, ensure_ascii=False))
            return
        lay = " (laid over the current agreement's dates and revision)" if simulation.laid_over else ""
        months = simulation.months  # those metered of the agreement: fewer than asked when the range reaches outside
        first_done, last_done = str(months[0]), str(months[-1])
        asked = (
            f", the metered ones of {data['from']} to {data['to']}"
            if (data["from"], data["to"]) != (first_done, last_done)
            else ""
        )
        typer.echo(
            f"proposal {proposal.contract_id} from {tariff}{lay}, months {first_done} to {last_done} "
            f"({len(months)}{asked}{partial}), net of VAT, {proposal.currency}"
        )
        rows = [
            {k: Decimal(v) if k in ("current_net", "simulated_net", "delta") else v for k, v in r.items()}
            for r in data["establishments"]
        ]  # type: ignore[union-attr]
        rows.append(
            {
                "establishment_id": "total",
                "current_net": simulation.current_net,
                "simulated_net": simulation.simulated_net,
                "delta": Decimal(data["delta"]),
            }
        )
        typer.echo(text_table(rows, ["establishment_id", "offer", "months", "current_net", "simulated_net", "delta"]))
