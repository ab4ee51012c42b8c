"""The analysts' notebooks, executed on the metered sample with nbclient, their key figures checked independently.

Each notebook runs in a kernel of this venv's Python (a kernelspec written to a temporary folder, never the user's),
with SANSFILM_CONFIG naming the sample, as an analyst would run it. A probe cell appended to the notebook prints its
key variables as JSON; the tests recompute those figures by another path (study-level tables, the billing preview,
plain SQL) and compare.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import duckdb
import nbformat
import pytest
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import KernelManager
from nbclient import NotebookClient

from analytics.billing import service
from analytics.billing.contracts import load_contracts
from analytics.billing.simulation import laid_over
from analytics.periods import Month
from analytics.reporting import proposals
from analytics.reporting.forecast import linear_forecast
from analytics.reporting.scope import SMALL_CELL

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"
KERNEL = "sansfilm-test-venv"
PROBE = "PROBE "


@pytest.fixture(scope="module")
def kernel_dir(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("kernels")
    spec = {
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "sansfilm tests",
        "language": "python",
    }
    (root / KERNEL).mkdir()
    (root / KERNEL / "kernel.json").write_text(json.dumps(spec), encoding="utf-8")
    return root


def execute(
    name: str, settings, kernel_dir: Path, workdir: Path, probe: str, parameters: dict[str, object] | None = None
) -> tuple[nbformat.NotebookNode, dict]:
    """Run the notebook as committed plus a probe cell; returns the executed notebook and the probe's JSON.
    `parameters` go in a cell after the one tagged `parameters`, as papermill injects them."""
    nb = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    assert all(not c.get("outputs") and c.get("execution_count") is None for c in nb.cells if c.cell_type == "code"), (
        f"notebooks/{name}.ipynb is committed with outputs: clear them"
    )
    if parameters:
        tagged = next(i for i, c in enumerate(nb.cells) if "parameters" in c.metadata.get("tags", []))
        nb.cells.insert(tagged + 1, nbformat.v4.new_code_cell("\n".join(f"{k} = {v!r}" for k, v in parameters.items())))
    nb.cells.append(
        nbformat.v4.new_code_cell(
            f"import json as _json, sys as _sys\n"
            f"print({PROBE!r} + _json.dumps({{'python': _sys.prefix, {probe}}}, default=str))"
        )
    )
    manager = KernelManager(kernel_name=KERNEL, kernel_spec_manager=KernelSpecManager(kernel_dirs=[str(kernel_dir)]))
    env = {
        **os.environ,
        "SANSFILM_CONFIG": str(settings.config_path),
        "PLOTLY_RENDERER": "plotly_mimetype",
        "IPYTHONDIR": str(workdir / ".ipython"),
        "JUPYTER_RUNTIME_DIR": str(workdir / ".runtime"),
    }
    client = NotebookClient(nb, km=manager, timeout=120, resources={"metadata": {"path": str(workdir)}})
    client.execute(env=env)
    printed = [o.text for o in nb.cells[-1].outputs if o.output_type == "stream"]
    found = json.loads("".join(printed).split(PROBE, 1)[1])
    assert found["python"] == sys.prefix  # the kernel is this venv's Python
    return nb, found


def outputs(nb: nbformat.NotebookNode, mime: str) -> list:
    return [o.data[mime] for c in nb.cells if c.cell_type == "code" for o in c.outputs if mime in o.get("data", {})]


def stdout(nb: nbformat.NotebookNode) -> str:
    return "".join(o.text for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "stream")


def published(settings) -> duckdb.DuckDBPyConnection:
    return duckdb.connect(str(settings.published_path), read_only=True)


def test_regional_volumes_by_departement_and_modality_withhold_small_cells(metered, kernel_dir, tmp_path):
    nb, found = execute(
        "regional_volumes",
        metered,
        kernel_dir,
        tmp_path,
        "'volumes': volumes.to_dicts(), 'by_departement': by_departement.to_dicts()",
    )
    con = published(metered)
    try:  # from the study- and instance-level tables, not the mart the notebook reads
        rows = con.execute("""
            with est as (select establishment_id, coalesce(departement, 'non attribué') as departement
                         from marts.dim_establishments),
            -- a study's modality: its first but SR (a tele-opinion's report), SR when it has nothing else
            studies as (select departement,
                               coalesce(list_filter(string_split(modalities, '/'), lambda m: m <> 'SR')[1], modalities,
                                        'UNKNOWN') as modality,
                               count(*) as studies
                        from staged.int_studies join est using (establishment_id)
                        where first_received_date is not null group by all),
            instances as (select departement, coalesce(modality, 'UNKNOWN') as modality, count(*) as instances,
                                 sum(size_bytes)::bigint as bytes
                          from staged.stg_dicom_instances join est using (establishment_id) group by all)
            select departement, modality, coalesce(studies, 0), coalesce(instances, 0), coalesce(bytes, 0)
            from studies full outer join instances using (departement, modality)""").fetchall()
    finally:
        con.close()
    expected = {}
    for departement, modality, studies, instances, volume in rows:
        shown = studies >= SMALL_CELL
        expected[(departement, modality)] = (
            studies if shown else None,
            instances if shown else None,
            volume if shown else None,
            not shown,
        )
    got = {
        (r["departement"], r["modality"]): (r["studies"], r["instances"], r["bytes"], r["suppressed"])
        for r in found["volumes"]
    }
    assert got == expected
    assert any(v[3] for v in got.values()) and any(not v[3] for v in got.values())  # the sample has both
    totals = {}  # the ARS's one-dimension view withholds a total on its own value
    for departement, _, studies, _, _ in rows:
        totals[departement] = totals.get(departement, 0) + studies
    assert {r["dimension"]: r["studies"] for r in found["by_departement"]} == {
        d: (n if n >= SMALL_CELL else None) for d, n in totals.items()
    }
    assert outputs(nb, "application/vnd.plotly.v1+json"), "the chart was not drawn"
    assert "withheld (under 10 studies)" in stdout(nb)


def test_explain_invoice_matches_the_billing_preview_down_to_its_studies(metered, kernel_dir, tmp_path):
    nb, found = execute(
        "explain_invoice",
        metered,
        kernel_dir,
        tmp_path,
        "'establishment': invoice.establishment_id, 'month': str(month), "
        "'studies': studies['study_instance_uid'].to_list(), "
        "'recomputed': {k: str(v) for k, v in recomputed.items()}, 'lines': lines.to_dicts(), "
        "'totals': [str(net), str(vat), str(net + vat)]",
        {"MONTH": "2012-06"},
    )
    assert found["month"] == "2012-06"
    # what issuing would produce now (re-meters the month in the working file: the same rows; the ledger is untouched)
    (invoice,) = service.preview(metered, Month(2012, 6), found["establishment"])
    assert found["lines"] == [
        {
            "code": l.code,
            "description": l.description,
            "metric": l.metric,
            "quantity": str(l.quantity),
            "unit_price": str(l.unit_price),
            "amount": str(l.amount),
        }
        for l in invoice.lines
    ]
    assert found["totals"] == [str(invoice.net), str(invoice.vat), str(invoice.gross)]
    assert f"net {invoice.net} EUR" in stdout(nb) and f"gross {invoice.gross} EUR" in stdout(nb)
    metric_lines = [l for l in invoice.lines if l.metric]
    assert len(metric_lines) >= 3  # an invoice with several usage lines, not just the subscription
    for metric in {l.metric for l in metric_lines}:
        assert Decimal(found["recomputed"][metric]) == sum(l.quantity for l in metric_lines if l.metric == metric)
    billed_studies = sum((l.quantity for l in metric_lines if l.metric == "studies_archived"), Decimal(0))
    assert len(found["studies"]) == len(set(found["studies"])) == billed_studies > 0


def test_storage_forecast_is_the_operators_forecast_of_the_month_end_volumes(metered, kernel_dir, tmp_path):
    nb, found = execute(
        "storage_forecast",
        metered,
        kernel_dir,
        tmp_path,
        "'forecast': forecast.to_dicts(), 'by_establishment': by_establishment.to_dicts()",
    )
    con = published(metered)
    try:  # bytes stored on the last day of each month, summed over the establishments
        rows = con.execute("""
            select strptime(month || '-01', '%Y-%m-%d')::date as month, sum(stored_bytes)::double
            from marts.fct_usage_daily where usage_date = last_day(usage_date) group by 1 order by 1""").fetchall()
    finally:
        con.close()
    assert len(rows) == 12
    expected = linear_forecast([m for m, _ in rows], [b / 1e9 for _, b in rows], 12).to_dicts()
    got = found["forecast"]
    assert [(r["month"], r["kind"]) for r in got] == [(str(r["month"]), r["kind"]) for r in expected]
    for g, e in zip(got, expected, strict=True):
        for key in ("stored_gb", "low", "high"):
            assert (g[key] is None and e[key] is None) or g[key] == pytest.approx(e[key], rel=1e-9), (g, e)
    assert sum(r["kind"] == "forecast" and r["low"] is not None for r in got) == 12
    assert sum(r["stored_gb"] for r in found["by_establishment"]) == pytest.approx(rows[-1][1] / 1e9, rel=1e-9)
    assert outputs(nb, "application/vnd.plotly.v1+json"), "the chart was not drawn"


def test_next_agreement_matches_the_drafts_rated_again_under_the_proposal(metered, kernel_dir, tmp_path):
    nb, found = execute(
        "next_agreement",
        metered,
        kernel_dir,
        tmp_path,
        "'result': result, 'changes': [{k: str(v) for k, v in r.items()} for r in changes.to_dicts()], "
        "'summary': [{k: str(v) for k, v in r.items()} for r in summary.to_dicts()]",
        {"LAST_MONTH": "2012-06"},
    )
    result = found["result"]
    assert (result["from"], result["to"]) == ("2012-01", "2012-06")
    # another path: the months metered afresh in the working file (the same rows), drafted by the service under the
    # current tariff and under the proposal laid over the agreement's dates (nothing is issued in this ledger)
    contracts = load_contracts(metered)
    proposal = proposals.load_proposal(contracts, metered.contracts.dir / "proposals" / "b_bundle.yaml")
    months = [Month(2012, m) for m in range(1, 7)]
    usage = service.meter(metered, months)
    priced, moved = laid_over(proposal, contracts.tariff, months)
    current = [d for m in months for d in service.draft_month(contracts, m, usage[m])]
    simulated = [d for m in months for d in service.draft_month(replace(contracts, tariff=priced), m, usage[m])]
    assert moved and result["current_net"] == str(sum((d.net for d in current), Decimal("0.00")))
    assert result["simulated_net"] == str(sum((d.net for d in simulated), Decimal("0.00")))
    for row in found["changes"]:
        mine = [d for d in simulated if d.establishment_id == row["establishment_id"]]
        assert row["simulated_net"] == str(sum((d.net for d in mine), Decimal("0.00")))
    assert Decimal(result["delta"]) < 0  # the bundle drops the minimum top-up the sample's sites pay
    assert [r["scenario"] for r in found["summary"]] == ["bas", "central", "haut"]
    assert {r["ceiling"] for r in found["summary"]} == {"1600000.00"}
    assert len(outputs(nb, "application/vnd.plotly.v1+json")) == 2, "both charts drawn"
