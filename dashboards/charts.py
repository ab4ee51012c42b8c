"""Chart builders and UI helpers: French number and date formats, a table view and a download for every chart."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal

import plotly.graph_objects as go
import polars as pl
import streamlit as st
from streamlit.runtime.scriptrunner import get_script_run_ctx

from analytics.reporting import exports, labels

NBSP = "\u202f"  # narrow no-break space: the French thousands separator
MONTHS_FR = ("janv.", "févr.", "mars", "avr.", "mai", "juin", "juil.", "août", "sept.", "oct.", "nov.", "déc.")
STAGES_FR = labels.STAGES
SUPPRESSED = "secret"  # a hidden cell (analytics/reporting/disclosure.py), whatever its value: never 0
# ratios shown as percentages wherever they appear (a table, its CSV)
PERCENT = frozenset(
    {"mom", "yoy", "failure_rate", "share", "projected_share", "studies_share", "amount_share", "answered_share"}
)
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
    "amount": "montant HT (€)",
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
    """31/12/2012, or 31/12/2012 14:05 in Paris time for a moment (one clock on every page)."""
    if value is None:
        return "–"
    if isinstance(value, datetime):
        return (labels.paris(value) if value.tzinfo is not None else value).strftime("%d/%m/%Y %H:%M")
    return value.strftime("%d/%m/%Y")


def fr_month(value: date | str) -> str:
    """'2012-12' or 2012-12-01 -> 'déc. 2012', as the month pickers say it."""
    if isinstance(value, str):
        value = date(int(value[:4]), int(value[5:7]), 1)
    return f"{MONTHS_FR[value.month - 1]} {value.year}"


def fr_exact(value: object) -> str:
    """An exact decimal (text from the ledger) with the decimals it has: '2.4571' -> '2,4571' (a unit price keeps
    the tariff's decimals, as the invoice prints it)."""
    if value is None or value == "":
        return ""
    number = Decimal(str(value))
    return fr_number(number, max(-number.as_tuple().exponent, 0))


@cached
def french_table(
    frame: pl.DataFrame, money: tuple[str, ...] = (), decimals: dict[str, int] | None = None
) -> pl.DataFrame:
    """Every value as the French text a reader expects (numbers, money, dates); hidden cells as 'secret'."""
    decimals = decimals or {}
    out = {}
    hidden = frame["suppressed"].to_list() if "suppressed" in frame.columns else [False] * frame.height
    for name in frame.columns:
        values = frame[name].to_list()
        dtype = frame[name].dtype
        if name == "suppressed":
            continue
        if name in money:
            out[name] = [fr_money(v) if v is not None else "" for v in values]
        elif dtype == pl.Date or isinstance(dtype, pl.Datetime):
            out[name] = [fr_month(v) if name == "month" and v else fr_date(v) for v in values]
        elif name == "month" and dtype == pl.String:
            out[name] = [fr_month(v) if v else "" for v in values]
        elif dtype == pl.Boolean:
            out[name] = [labels.yes_no(v) for v in values]
        elif dtype.is_numeric() and name in PERCENT:
            out[name] = [  # a hidden month's change is as secret as the month (never "–", which reads as none)
                fr_percent(float(v), decimals.get(name, 1))
                if v is not None and v == v and abs(v) != float("inf")
                else SUPPRESSED
                if s
                else "–"
                for v, s in zip(values, hidden, strict=True)
            ]
        elif dtype.is_numeric():
            whole = dtype.is_integer() or getattr(dtype, "scale", None) == 0  # a count summed as DECIMAL(38,0)
            digits = decimals.get(name, 0 if whole else 2)
            out[name] = [
                SUPPRESSED if s and v is None else fr_number(v, digits) for v, s in zip(values, hidden, strict=True)
            ]
        else:
            out[name] = [("" if v is None else str(v)) for v in values]
    return pl.DataFrame(out, schema={k: pl.String for k in out})


TEXT = "#262730"  # axis and legend text: 15:1 on white, 4.5:1 is the floor (WCAG AA)
LANG_SCRIPT = "<script>document.documentElement.lang = 'fr';</script>"


def french_document() -> None:
    """The page's language is French (`lang="fr"`: screen readers and hyphenation); Streamlit's own page says "en"
    and offers no setting, so a script sets it."""
    if get_script_run_ctx(suppress_warning=True) is None:
        return
    with st.sidebar:
        st.html(LANG_SCRIPT, unsafe_allow_javascript=True)


def french_layout(fig: go.Figure, title: str | None = None) -> go.Figure:
    fig.update_layout(
        separators=f",{NBSP}",
        title=title,
        margin={"l": 10, "r": 10, "t": 40 if title else 10, "b": 10},
        legend={"orientation": "h", "y": -0.2, "font": {"color": TEXT}},
        height=380,
        font={"color": TEXT},
    )
    fig.update_xaxes(tickfont_color=TEXT, title_font_color=TEXT, automargin=True)
    return fig.update_yaxes(tickfont_color=TEXT, title_font_color=TEXT, automargin=True)


def text_alternative(fig: go.Figure) -> str:
    """What the chart shows in one French sentence, for readers who cannot see it (the Tableau tab has every value)."""
    names = [t.name for t in fig.data if getattr(t, "name", None)]
    x_title = fig.layout.xaxis.title.text or "abscisse"
    y_title = fig.layout.yaxis.title.text or "valeur"
    xs = [x for t in fig.data for x in (() if getattr(t, "x", None) is None else list(t.x)) if x is not None]
    span = f", de {_tick(xs[0])} à {_tick(xs[-1])}" if xs and len({str(x) for x in xs}) > 1 else ""
    series = f" ; séries : {', '.join(names[:8])}{' …' if len(names) > 8 else ''}" if names else ""
    return f"Graphique : {y_title} selon {x_title}{span}{series}. Valeurs exactes dans l'onglet Tableau."


def _tick(value: object) -> str:
    if isinstance(value, date):
        return fr_date(value)
    return fr_number(value, 2) if isinstance(value, float) else str(value)


def _dates(fig: go.Figure, frame: pl.DataFrame, x: str) -> go.Figure:
    """Plotly's month names are English: a month axis is a category axis of French labels in chronological order
    (`déc. 2012`, as the month pickers); a day axis gets French month ticks."""
    if x == "month":
        return fig.update_xaxes(
            type="category",
            categoryorder="array",
            categoryarray=[fr_month(m) for m in sorted(set(frame[x].drop_nulls().to_list()))],
        )
    if frame.schema.get(x) == pl.Date or isinstance(frame.schema.get(x), pl.Datetime):
        french_month_ticks(fig, frame[x].drop_nulls().to_list())
    return fig


def french_month_ticks(fig: go.Figure, days: list[date], axis: str = "x") -> go.Figure:
    """Ticks on the first of months, named the French way, at most ~8 of them, on a date axis."""
    days = [d.date() if isinstance(d, datetime) else d for d in days]
    if not days:
        return fig
    first, last = min(days), max(days)
    months = [(y, m) for y in range(first.year, last.year + 2) for m in range(1, 13)]
    months = [d for d in (date(y, m, 1) for y, m in months) if first <= d <= last] or [date(first.year, first.month, 1)]
    step = max(1, -(-len(months) // 8))
    ticks = months[::step]
    update = {"tickvals": ticks, "ticktext": [fr_month(t) for t in ticks], "hoverformat": "%d/%m/%Y"}
    return fig.update_xaxes(**update) if axis == "x" else fig.update_yaxes(**update)


def _x_values(frame: pl.DataFrame, x: str) -> list:
    return [fr_month(v) if v is not None else None for v in frame[x]] if x == "month" else frame[x].to_list()


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
            st.caption(text_alternative(fig))
        with table_tab:
            st.dataframe(table, hide_index=True, key=f"table_{key}")
    else:
        st.dataframe(table, hide_index=True, key=f"table_{key}")
    downloads(key, frame, money=money, decimals=decimals, labels=labels)


XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def downloads(
    key: str,
    frame: pl.DataFrame,
    *,
    money: tuple[str, ...] = (),
    decimals: dict[str, int] | None = None,
    labels: dict[str, str] | None = None,
    title: str = "Télécharger",
) -> None:
    """The table as a CSV and as an Excel workbook, side by side, with typed values (analytics.reporting.exports)."""

    def typed() -> list[exports.Column]:
        return exports.columns(
            frame, money=money, percent=PERCENT & set(frame.columns), decimals=decimals, labels=labels
        )

    csv_col, xlsx_col = st.columns(2) if get_script_run_ctx(suppress_warning=True) is not None else (None, None)
    download(f"{title} (CSV)", lambda: exports.csv_text(typed()), f"{key}.csv", f"download_{key}", where=csv_col)
    download(
        f"{title} (Excel)", lambda: exports.xlsx_bytes(typed()), f"{key}.xlsx", f"xlsx_{key}", mime=XLSX, where=xlsx_col
    )


def download(
    label: str, make: Callable[[], str | bytes], file_name: str, key: str, mime: str = "text/csv", where: object = None
) -> None:
    """A download written when clicked (not at every page run: some are megabytes) and without a rerun."""
    if get_script_run_ctx(suppress_warning=True) is None:  # a headless run (the cache warmer): nobody to serve
        return
    (where or st).download_button(label, make, file_name=file_name, mime=mime, key=key, on_click="ignore")


def _labelled(
    frame: pl.DataFrame, money: tuple[str, ...], decimals: dict[str, int] | None, labels: dict[str, str] | None
) -> pl.DataFrame:
    return french_table(frame, money, decimals).rename({k: v for k, v in (labels or {}).items() if k in frame.columns})


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
    frame = frame.sort(x, maintain_order=True) if x == "month" else frame
    fig = go.Figure(
        [
            go.Scatter(
                x=_x_values(rows, x),
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
    frame = frame.sort(x, maintain_order=True) if x == "month" else frame
    fig = go.Figure(
        [
            go.Bar(
                x=_x_values(rows, x),
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
    if (
        frame.schema.get(x) == pl.String and x != "month"
    ):  # codes such as départements "75", "93" are categories, not numbers
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
    names = [
        fr_month(c) if (isinstance(c, date) and not isinstance(c, datetime)) or x == "month" else c for c in columns
    ]
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


LATENESS_COLOURS = {
    "à l'heure (dans la tolérance)": "#1a7f37",
    "en retard": "#b35900",
    "très en retard": "#c62828",
    "pas encore prévu": "#6e7781",
}


@cached
def timeline(sites: pl.DataFrame) -> go.Figure:
    """A dumbbell per site: a segment from the planned go-live (hollow) to the actual one (filled; today for a site
    not live yet), coloured by how late it is (`lateness`), latest on top."""
    fig = go.Figure()
    for lateness, rows in sites.group_by("lateness", maintain_order=True):
        colour = LATENESS_COLOURS.get(lateness[0], TEXT)
        xs, ys = [], []
        for row in rows.iter_rows(named=True):
            end = row["actual_go_live"] or row.get("as_of")
            if row["planned_go_live"] and end:
                xs += [row["planned_go_live"], end, None]
                ys += [row["name"], row["name"], None]
        fig.add_scatter(
            x=xs,
            y=ys,
            mode="lines",
            line={"color": colour, "width": 3},
            name=lateness[0],
            hoverinfo="skip",
            legendgroup=lateness[0],
        )
        fig.add_scatter(
            x=rows["planned_go_live"].to_list(),
            y=rows["name"].to_list(),
            mode="markers",
            marker={"symbol": "circle-open", "size": 11, "color": colour},
            showlegend=False,
            legendgroup=lateness[0],
            hovertemplate="%{y}<br>prévue le %{x|%d/%m/%Y}<extra></extra>",
        )
        fig.add_scatter(
            x=rows["actual_go_live"].to_list(),
            y=rows["name"].to_list(),
            mode="markers",
            marker={"symbol": "circle", "size": 10, "color": colour},
            showlegend=False,
            legendgroup=lateness[0],
            text=[f"{fr_number(d)} j de retard" if d is not None else "" for d in rows["delay_days"]],
            hovertemplate="%{y}<br>en production le %{x|%d/%m/%Y}<br>%{text}<extra></extra>",
        )
    fig.update_layout(height=max(300, 28 * sites.height), xaxis_title="mise en production (prévue ○, réelle ●)")
    french_month_ticks(fig, [d for d in (*sites["planned_go_live"], *sites["actual_go_live"]) if d is not None])
    return fig.update_yaxes(showticklabels=sites.height <= LABELLED_ROWS, autorange="reversed", type="category")


@cached
def s_curve(curve: pl.DataFrame) -> go.Figure:
    """Sites live (solid) vs planned (dotted) per month, a colour per group."""
    fig = go.Figure()
    for index, (group, rows) in enumerate(curve.group_by("group", maintain_order=True)):
        colour = PALETTE[index % len(PALETTE)]
        months = [fr_month(m) for m in rows["month"]]
        fig.add_scatter(
            x=months,
            y=rows["planned"].to_list(),
            mode="lines",
            name=f"{group[0]} : prévu",
            line={"dash": "dot", "color": colour},
        )
        fig.add_scatter(
            x=months,
            y=rows["live"].to_list(),
            mode="lines+markers",
            name=f"{group[0]} : en production",
            line={"color": colour},
        )
    fig.update_layout(xaxis_title="mois", yaxis_title="sites (cumul)")
    return _dates(fig, curve, "month")


@cached
def box(frame: pl.DataFrame, x: str, y: str, labels: dict[str, str] | None = None) -> go.Figure:
    """The distribution of `y` per `x` group: a box and every point."""
    fig = go.Figure(
        [
            go.Box(
                y=rows[y].to_list(),
                name=str(key[0]),
                boxpoints="all",
                jitter=0.3,
                pointpos=0,
                text=rows["name"].to_list() if "name" in rows.columns else None,
            )
            for key, rows in frame.group_by(x, maintain_order=True)
        ]
    )
    fig.update_layout(showlegend=False, xaxis_title=_label(labels, x), yaxis_title=_label(labels, y))
    return fig


PALETTE = ("#1f5fa8", "#b35900", "#1a7f37", "#8a3ffc", "#c62828", "#00727a", "#6e4a00", "#a1136b")


@cached
def forecast(frame: pl.DataFrame, unit: str, scale: float) -> go.Figure:
    df = frame.sort("month").with_columns(pl.col("month").map_elements(fr_month, return_dtype=pl.String)).to_pandas()
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
    return fig.update_xaxes(type="category", categoryorder="array", categoryarray=df["month"].unique().tolist())
