"""Chart builders and UI helpers: French number and date formats, a table view and a download for every chart."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal

import plotly.graph_objects as go
import polars as pl
import streamlit as st
from streamlit.runtime.scriptrunner import get_script_run_ctx

NBSP = "\u202f"  # narrow no-break space: the French thousands separator
MONTHS_FR = ("janv.", "févr.", "mars", "avr.", "mai", "juin", "juil.", "août", "sept.", "oct.", "nov.", "déc.")
STAGES_FR = {"signed": "signé", "planned": "planifié", "live": "en production", "ended": "terminé"}
SUPPRESSED = "< 10"
# Building a plotly express figure costs ~0.1 s, formatting a few thousand rows as French text tens of ms: at every
# page run, cache hits included. Both are cached on their input frame (hashed by Streamlit), like the queries.
cached = st.cache_data(ttl=600, show_spinner=False, max_entries=512)


AGREEMENT_STATUS_FR = {
    "valid": "en vigueur",
    "renewal_due": "à renouveler",
    "expired": "expiré",
    "not_started": "pas encore en vigueur",
}
COMMITMENT_STATUS_FR = {"on_track": "conforme", "below": "en dessous", "not_live": "pas en production"}
MEASURES_FR = {
    "amount": "montant HT (EUR)",
    "studies_archived": "examens archivés",
    "storage_gb_month": "stockage (Go·mois)",
    "retrievals": "récupérations",
    "shares": "partages",
    "instances_archived": "instances archivées",
    "bytes_archived": "volume archivé (octets)",
    "views": "consultations",
}


def fr_number(value: object, decimals: int = 0) -> str:
    """1234567.891 -> '1 234 567,89' (narrow no-break spaces); None -> '–'."""
    if value is None:
        return "–"
    text = f"{Decimal(str(value)):,.{decimals}f}" if isinstance(value, (Decimal, str)) else f"{value:,.{decimals}f}"
    return text.replace(",", NBSP).replace(".", ",")


def fr_money(value: object) -> str:
    return f"{fr_number(value, 2)}{NBSP}€"


def fr_percent(value: float | None, decimals: int = 1) -> str:
    return "–" if value is None else f"{fr_number(value * 100, decimals)}{NBSP}%"


def fr_date(value: date | datetime | None) -> str:
    if value is None:
        return "–"
    return value.strftime("%d/%m/%Y %H:%M") if isinstance(value, datetime) else value.strftime("%d/%m/%Y")


def fr_month(value: date | str) -> str:
    if isinstance(value, str):
        value = date(int(value[:4]), int(value[5:7]), 1)
    return f"{MONTHS_FR[value.month - 1]} {value.year}"


@cached
def french_table(
    frame: pl.DataFrame, money: tuple[str, ...] = (), decimals: dict[str, int] | None = None
) -> pl.DataFrame:
    """Every value as the French text a reader expects (numbers, money, dates); suppressed cells as '< 10'."""
    decimals = decimals or {}
    out = {}
    for name in frame.columns:
        values = frame[name].to_list()
        dtype = frame[name].dtype
        if name == "suppressed":
            continue
        if name in money:
            out[name] = [fr_money(v) if v is not None else "" for v in values]
        elif dtype == pl.Date or dtype == pl.Datetime:
            out[name] = [fr_month(v) if name == "month" and v else fr_date(v) for v in values]
        elif dtype.is_numeric():
            digits = decimals.get(name, 0 if dtype.is_integer() else 2)
            suppressed = frame["suppressed"].to_list() if "suppressed" in frame.columns else [False] * len(values)
            out[name] = [
                SUPPRESSED if s and v is None else fr_number(v, digits) for v, s in zip(values, suppressed, strict=True)
            ]
        else:
            out[name] = [("" if v is None else str(v)) for v in values]
    return pl.DataFrame(out, schema={k: pl.String for k in out})


def french_layout(fig: go.Figure, title: str | None = None) -> go.Figure:
    fig.update_layout(
        separators=f",{NBSP}",
        title=title,
        margin={"l": 10, "r": 10, "t": 40 if title else 10, "b": 10},
        legend={"orientation": "h", "y": -0.2},
        height=380,
    )
    return fig


def _dates(fig: go.Figure, frame: pl.DataFrame, x: str) -> go.Figure:
    """Plotly's month names are English: date axes are numeric, French order (12/2012, 31/12/2012)."""
    if frame.schema.get(x) in (pl.Date, pl.Datetime):
        fig.update_xaxes(tickformat="%m/%Y", hoverformat="%d/%m/%Y")
    return fig


def show(
    key: str,
    frame: pl.DataFrame,
    fig: go.Figure | None = None,
    *,
    money: tuple[str, ...] = (),
    decimals: dict[str, int] | None = None,
    labels: dict[str, str] | None = None,
) -> None:
    """A chart with its table view and a CSV download of exactly what is shown."""
    table = _labelled(frame, money, decimals, labels)
    if frame.is_empty():
        st.info("Aucune donnée pour ces filtres.")
        return
    if fig is not None:
        chart_tab, table_tab = st.tabs(["Graphique", "Tableau"])
        with chart_tab:
            st.plotly_chart(french_layout(fig), key=f"chart_{key}", config={"locale": "fr", "displaylogo": False})
        with table_tab:
            st.dataframe(table, hide_index=True, key=f"table_{key}")
    else:
        st.dataframe(table, hide_index=True, key=f"table_{key}")
    download("Télécharger (CSV)", lambda: table.write_csv(separator=";"), f"{key}.csv", f"download_{key}")


def download(label: str, make: Callable[[], str], file_name: str, key: str) -> None:
    """A CSV download written when clicked (not at every page run: some are megabytes) and without a rerun."""
    if get_script_run_ctx(suppress_warning=True) is None:  # a headless run (the cache warmer): nobody to serve
        return
    st.download_button(label, make, file_name=file_name, mime="text/csv", key=key, on_click="ignore")


def _labelled(
    frame: pl.DataFrame, money: tuple[str, ...], decimals: dict[str, int] | None, labels: dict[str, str] | None
) -> pl.DataFrame:
    return french_table(frame, money, decimals).rename({k: v for k, v in (labels or {}).items() if k in frame.columns})


def csv_text(
    frame: pl.DataFrame,
    *,
    money: tuple[str, ...] = (),
    decimals: dict[str, int] | None = None,
    labels: dict[str, str] | None = None,
) -> str:
    """The CSV of a table that is not all shown (French values, `;`-separated, as the table downloads)."""
    return _labelled(frame, money, decimals, labels).write_csv(separator=";")


# The figures are built with plotly's graph objects: plotly express took ~50 ms a figure (its data-frame machinery),
# which a page of four charts paid at every filter change; a trace per group is a few milliseconds.
def _label(labels: dict[str, str] | None, name: str | None) -> str:
    return "" if name is None else (labels or {}).get(name, name)


def _groups(frame: pl.DataFrame, color: str | None) -> list[tuple[str | None, pl.DataFrame]]:
    """One trace per value of `color` (in order of appearance, as a legend reads), or a single one."""
    if color is None:
        return [(None, frame)]
    return [(str(key), rows) for (key,), rows in frame.group_by(color, maintain_order=True)]


def _hover(name: str | None, *parts: tuple[str, str]) -> str:
    lines = ([name] if name else []) + [f"{label} = %{{{axis}}}" for label, axis in parts]
    return "<br>".join(lines) + "<extra></extra>"


def _axes(
    fig: go.Figure, frame: pl.DataFrame, x: str, y: str, color: str | None, labels: dict[str, str] | None
) -> go.Figure:
    fig.update_layout(
        xaxis_title=_label(labels, x),
        yaxis_title=_label(labels, y),
        showlegend=color is not None,
        legend_title_text=_label(labels, color),
    )
    return _dates(fig, frame, x)


@cached
def line(
    frame: pl.DataFrame, x: str, y: str, color: str | None = None, labels: dict[str, str] | None = None
) -> go.Figure:
    hover = ((_label(labels, x), "x"), (_label(labels, y), "y"))
    fig = go.Figure(
        [
            go.Scatter(
                x=rows[x].to_list(),
                y=rows[y].to_list(),
                name=name,
                mode="lines+markers",
                hovertemplate=_hover(name, *hover),
            )
            for name, rows in _groups(frame, color)
        ]
    )
    return _axes(fig, frame, x, y, color, labels)


@cached
def bar(
    frame: pl.DataFrame,
    x: str,
    y: str,
    color: str | None = None,
    labels: dict[str, str] | None = None,
    orientation: str = "v",
) -> go.Figure:
    """Stacked bars per `color` group; orientation "h": `x` holds the values, `y` the categories."""
    hover = ((_label(labels, x), "x"), (_label(labels, y), "y"))
    fig = go.Figure(
        [
            go.Bar(
                x=rows[x].to_list(),
                y=rows[y].to_list(),
                name=name,
                orientation=orientation,
                hovertemplate=_hover(name, *hover),
            )
            for name, rows in _groups(frame, color)
        ],
        layout={"barmode": "relative"},
    )
    fig = _axes(fig, frame, x, y, color, labels)
    if frame.schema.get(x) == pl.String:  # codes such as départements "75", "93" are categories, not numbers
        fig.update_xaxes(type="category")
    if orientation == "h":
        fig.update_yaxes(type="category")
    return fig


TEXT_CELLS = 400  # above this, the values are in the hover and the table only: thousands of labels draw slowly
LABELLED_ROWS = 50  # above this, a category axis (a site per row) is named in the hover only, for the same reason


@cached
def heatmap(frame: pl.DataFrame, x: str, y: str, z: str, labels: dict[str, str] | None = None) -> go.Figure:
    """`y` rows by `x` columns (both sorted), first row on top; `labels` names "x", "y" and "color". A cell whose
    values are all withheld (null) stays empty rather than showing as zero."""
    cells = frame.group_by(y, x).agg(pl.when(pl.col(z).is_not_null().any()).then(pl.col(z).sum()).alias(z))
    columns = cells[x].unique().sort().to_list()
    keys = [f"c{i}" for i in range(len(columns))]  # pivoted column names of our own: any x type, any y name
    cells = cells.with_columns(pl.col(x).replace_strict(columns, keys, return_dtype=pl.String).alias("_column"))
    grid = cells.pivot(on="_column", index=y, values=z).sort(y)
    matrix = [list(row) for row in grid.select(keys).iter_rows()]
    names = [fr_month(c) if isinstance(c, date) and not isinstance(c, datetime) else c for c in columns]
    axis_x, axis_y, axis_z = ((labels or {}).get(key, default) for key, default in (("x", x), ("y", y), ("color", z)))
    fig = go.Figure(
        go.Heatmap(
            z=matrix,
            x=names,
            y=grid[y].to_list(),
            colorscale="Blues",
            colorbar={"title": axis_z},
            hovertemplate=_hover(None, (axis_x, "x"), (axis_y, "y"), (axis_z, "z")),
            texttemplate="%{z}" if len(matrix) * len(columns) <= TEXT_CELLS else None,
        )
    )
    fig.update_layout(xaxis_title=axis_x, yaxis_title=axis_y)
    fig.update_xaxes(type="category")
    return fig.update_yaxes(type="category", autorange="reversed", showticklabels=len(matrix) <= LABELLED_ROWS)


@cached
def timeline(sites: pl.DataFrame) -> go.Figure:
    """Planned (hollow) vs actual (filled) go-live per site."""
    df = sites.to_pandas()
    fig = go.Figure()
    fig.add_scatter(
        x=df["planned_go_live"],
        y=df["name"],
        mode="markers",
        name="prévue",
        marker={"symbol": "circle-open", "size": 11},
    )
    fig.add_scatter(
        x=df["actual_go_live"],
        y=df["name"],
        mode="markers",
        name="réelle",
        marker={"symbol": "circle", "size": 9},
        text=[f"{fr_number(d)} j de retard" if d == d and d is not None else "" for d in df["delay_days"]],
    )
    fig.update_layout(height=max(300, 28 * len(df)))
    fig.update_xaxes(tickformat="%m/%Y", hoverformat="%d/%m/%Y")
    return fig.update_yaxes(showticklabels=len(df) <= LABELLED_ROWS)


@cached
def forecast(frame: pl.DataFrame, unit: str, scale: float) -> go.Figure:
    df = frame.to_pandas()
    hist, fut = df[df["kind"] == "history"], df[df["kind"] == "forecast"]
    fig = go.Figure()
    fig.add_scatter(x=fut["month"], y=fut["high"] * scale, mode="lines", line={"width": 0}, showlegend=False)
    fig.add_scatter(
        x=fut["month"],
        y=fut["low"] * scale,
        mode="lines",
        line={"width": 0},
        fill="tonexty",
        name="intervalle à 95 %",
        fillcolor="rgba(31,119,180,0.2)",
    )
    fig.add_scatter(x=hist["month"], y=hist["stored_gb"] * scale, mode="lines+markers", name="stocké")
    fig.add_scatter(x=fut["month"], y=fut["stored_gb"] * scale, mode="lines", name="prévision", line={"dash": "dash"})
    fig.update_yaxes(title=unit)
    fig.update_xaxes(tickformat="%m/%Y", hoverformat="%m/%Y")
    return fig
