"""What each rule computes, and how Great Expectations decides.

Two ways, chosen for a warehouse of ~10 M studies (hundreds of millions of instance rows):
- row-level rules (a GX `expect_column_values_*` expectation, or the kinds `dicom_uid`, `in_set`, `positive`,
  `in_harvest_window` that map onto one) are counted by DuckDB in one scan of their table when the expectation is
  one whose meaning SQL keeps exactly (`sql_condition`); GX judges each count against `mostly`, over the whole
  table. Any other one is pulled (only the columns it names, in chunks of `CHUNK_ROWS` rows, DuckDB record batches
  -> pandas) and GX validates each chunk; offending rows are summed over the chunks, memory stays flat, and `mostly`
  is judged per chunk.
- aggregate rules (`unique`, `unknown_ae_share`, `harvest_age`, `record_lag`, and the reconciliations) are computed
  in DuckDB SQL, where they scale; GX validates their result (one row, or one per source) against the threshold.
Identifiers in the SQL (tables, columns) come from a validated contract and are quoted; values are bound.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import duckdb

from analytics.quality import expectations as gx
from analytics.quality.contracts import CheckResult, Rule
from analytics.warehouse import SQL_DIR

CHUNK_ROWS = 1_000_000
ROW_LEVEL = ("expectation", "dicom_uid", "in_set", "positive", "in_harvest_window")
# DICOM PS3.5 9.1: digits and dots, no empty or leading-zero component, at most 64 characters
DICOM_UID = r"^(?=[0-9.]{1,64}\Z)(?:0|[1-9][0-9]*)(?:\.(?:0|[1-9][0-9]*))*\Z"  # \Z: no trailing newline either


@dataclass(frozen=True)
class RunContext:
    con: duckdb.DuckDBPyConnection
    agreement_start: datetime  # the framework agreement's first day, 00:00 Europe/Paris
    as_of: datetime | None  # the reference time; None: the newest harvest (never the wall clock)
    extra: dict[str, Any] = field(default_factory=dict)  # what reconciliations need (settings, contracts)

    def reference_time(self) -> datetime | None:
        if self.as_of is not None:
            return self.as_of
        return self.con.execute("select max(finished_at) from raw.harvest_runs").fetchall()[0][0]


@dataclass(frozen=True)
class Measure:
    """An aggregate: the values GX checks against `max_value`, the figure reported, and what explains it."""

    values: list[float]
    observed: int | float | str | None
    max_value: float
    details: dict[str, Any]


def sql(name: str) -> str:
    return (SQL_DIR / "quality" / f"{name}.sql").read_text(encoding="utf-8")


def quoted(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def table_columns(con: duckdb.DuckDBPyConnection, table: str) -> dict[str, str]:
    """Column name -> DuckDB type."""
    schema, name = table.split(".")
    rows = con.execute(
        "select column_name, data_type from information_schema.columns where table_schema = ? and table_name = ?",
        [schema, name],
    ).fetchall()
    return dict(rows)


def base_details(rule: Rule, **more: Any) -> dict[str, Any]:
    return {"description": rule.description, **more} if rule.description else dict(more)


# ---- row-level ----------------------------------------------------------------------------------------------------


def expectation_of(rule: Rule, ctx: RunContext) -> tuple[str, dict[str, Any], tuple[str, ...]]:
    """(GX expectation type, kwargs, columns to pull) of a row-level rule."""
    p = rule.params
    if rule.kind == "expectation":
        return p["type"], dict(p["kwargs"]), p["columns"]
    mostly = {"mostly": p["mostly"]} if "mostly" in p else {}
    column = p["column"]
    if rule.kind == "dicom_uid":
        return "expect_column_values_to_match_regex", {"column": column, "regex": DICOM_UID, **mostly}, (column,)
    if rule.kind == "in_set":
        return (
            "expect_column_values_to_be_in_set",
            {"column": column, "value_set": list(p["values"]), **mostly},
            (column,),
        )
    if rule.kind == "positive":
        kwargs = {"column": column, "min_value": 0, "strict_min": True, **mostly}
        return "expect_column_values_to_be_between", kwargs, (column,)
    upper = ctx.reference_time()
    kwargs = {"column": column, "min_value": ctx.agreement_start, **({"max_value": upper} if upper else {})}
    return "expect_column_values_to_be_between", kwargs, (column,)


# DICOM_UID for DuckDB's regular expressions (RE2: no look-ahead), the length tested apart
DICOM_UID_RE2 = r"(0|[1-9][0-9]*)(\.(0|[1-9][0-9]*))*"
# The column-map expectations computed in DuckDB: a scan of one column, however many rows (GX on pulled chunks ran at
# ~0.06 M rows/s, bench/quality.py). Only these arguments are understood; anything else goes to GX.
SQL_KWARGS = {"column", "mostly", "value_set", "min_value", "max_value", "strict_min", "strict_max", "regex"}


# Where SQL and GX would differ, GX computes: floating-point columns (pandas takes NaN for a null, DuckDB a number
# above all others), value sets of mixed types (DuckDB casts them to one), and regular expressions using what Python's
# `re` and RE2 read differently (`$` before a trailing newline, Unicode `\w`, `\d`, `\s`, `\b`).
FLOATING = ("FLOAT", "DOUBLE", "REAL", "DECIMAL")
REGEX_DIALECT = ("$", "\\w", "\\W", "\\d", "\\D", "\\s", "\\S", "\\b", "\\B")


def sql_condition(
    rule: Rule, kind: str, kwargs: dict[str, Any], column_type: str = "VARCHAR"
) -> tuple[str | None, list[Any]] | None:
    """(what a non-null value must satisfy, its bound values) of an expectation DuckDB computes as GX would; (None, [])
    for `not_be_null` (the nulls are what it counts); None when GX must compute it."""
    if set(kwargs) - SQL_KWARGS or column_type.upper().startswith(FLOATING):
        return None
    if len({type(v) for v in kwargs.get("value_set") or []}) > 1:
        return None
    if (
        kind == "expect_column_values_to_match_regex"
        and rule.kind != "dicom_uid"
        and any(token in kwargs["regex"] for token in REGEX_DIALECT)
    ):
        return None
    column = quoted(kwargs["column"])
    if kind == "expect_column_values_to_not_be_null":
        return None, []
    if kind in ("expect_column_values_to_be_in_set", "expect_column_values_to_not_be_in_set"):
        test = f"list_contains(?, {column})"
        return (test if kind.endswith("to_be_in_set") else f"not {test}"), [list(kwargs["value_set"])]
    if kind == "expect_column_values_to_be_between":
        tests, values = [], []
        for bound, strict, op in (("min_value", "strict_min", ">"), ("max_value", "strict_max", "<")):
            if kwargs.get(bound) is not None:
                tests.append(f"{column} {op}{'' if kwargs.get(strict) else '='} ?")
                values.append(kwargs[bound])
        return (" and ".join(tests) or "true"), values
    if kind == "expect_column_values_to_match_regex":
        if rule.kind == "dicom_uid":
            return f"length({column}) <= 64 and regexp_full_match({column}, ?)", [DICOM_UID_RE2]
        return f"regexp_matches({column}, ?)", [kwargs["regex"]]  # a search, as GX's; RE2 syntax, else GX
    return None


def _offending(kwargs: dict[str, Any], condition: tuple[str | None, list[Any]]) -> tuple[str, str, list[Any]]:
    """(the rows a rule counts as unexpected, the values it judges, bound values) as SQL."""
    test, values = condition
    column = quoted(kwargs["column"])
    if test is None:  # not_be_null: the nulls, among every row
        return f"{column} is null", "count(*)", values
    return f"{column} is not null and not ({test})", f"count({column})", values  # GX's column maps leave nulls out


def _sql_counts(
    ctx: RunContext, table: str, items: list[tuple[dict[str, Any], tuple[str | None, list[Any]]]]
) -> list[tuple[int, int, int, list[Any]] | None]:
    """Per rule, (rows, values judged, unexpected, examples) counted by DuckDB in one scan of the table; None for a
    rule DuckDB cannot evaluate (a regular expression RE2 refuses, a value set of another type: GX will)."""
    if not items:
        return []
    parts = [_offending(kwargs, condition) for kwargs, condition in items]
    cursor = ctx.con.cursor()  # its own result stream: the caller's connection may hold an unfinished one
    try:
        try:
            select = ", ".join(f"{judged}, count(*) filter (where {offending})" for offending, judged, _ in parts)
            row = cursor.execute(
                f"select count(*), {select} from {table}", [v for *_, values in parts for v in values]
            ).fetchall()[0]
        except duckdb.Error:
            if len(items) == 1:
                return [None]
            return [c for item in items for c in _sql_counts(ctx, table, [item])]  # find which one DuckDB refuses
        counts = []
        for i, (offending, _, values) in enumerate(parts):
            judged, unexpected = row[1 + 2 * i], row[2 + 2 * i]
            column = quoted(items[i][0]["column"])
            examples = (
                []
                if not unexpected
                else [
                    r[0]
                    for r in cursor.execute(
                        f"select {column} from {table} where {offending} limit {gx.EXAMPLES}", values
                    ).fetchall()
                ]
            )
            counts.append((row[0], judged, unexpected, [gx.plain(e) for e in examples]))
        return counts
    finally:
        cursor.close()


def run_row_level(ctx: RunContext, table: str, rules: list[Rule]) -> list[CheckResult]:
    """Every row-level rule of one table: counted by DuckDB in one scan when the expectation is one it can compute
    (see `sql_condition`), else validated by GX chunk by chunk over only the columns the rules name."""
    present = table_columns(ctx.con, table)
    planned: dict[str, tuple[str, dict[str, Any], tuple[str, ...], Any]] = {}  # kind, kwargs, columns, expectation
    in_sql = []
    for rule in rules:
        kind, kwargs, needed = expectation_of(rule, ctx)
        for column in needed:
            if column not in present:
                raise rule.fail(f"{table} has no column '{column}'", field="column")
        try:
            planned[rule.name] = (kind, kwargs, needed, gx.build(kind, kwargs))  # GX checks the arguments either way
        except ValueError as exc:
            raise rule.fail(f"Great Expectations refuses its arguments: {exc}", field="kwargs") from None
        condition = sql_condition(rule, kind, kwargs, present[kwargs["column"]]) if "column" in kwargs else None
        if condition is not None:
            in_sql.append((rule, condition))
    figures = dict(
        zip(
            (rule.name for rule, _ in in_sql),
            _sql_counts(ctx, table, [(planned[rule.name][1], condition) for rule, condition in in_sql]),
            strict=True,
        )
    )
    counted = [rule for rule in rules if figures.get(rule.name) is not None]
    results = {}
    shares = [
        ((judged - unexpected) / judged if judged else 1.0, planned[rule.name][1].get("mostly", 1.0))
        for rule in counted
        for _, judged, unexpected, _ in [figures[rule.name]]
    ]
    # GX decides, as for a column map: the share of expected values against `mostly` (1 when not given)
    verdicts = gx.within_bounds([([share], mostly, None) for share, mostly in shares])
    for rule, passed in zip(counted, verdicts, strict=True):
        rows, _, unexpected, examples = figures[rule.name]
        kind, kwargs, *_ = planned[rule.name]
        results[rule.name] = _row_level_result(
            rule, table, kind, kwargs, passed, rows, unexpected, examples, engine="duckdb"
        )
    by_gx = [rule for rule in rules if figures.get(rule.name) is None]
    if by_gx:
        columns = list(dict.fromkeys(c for rule in by_gx for c in planned[rule.name][2]))
        built = [(rule, planned[rule.name][0], planned[rule.name][1], planned[rule.name][3]) for rule in by_gx]
        results |= _run_with_gx(ctx, table, built, columns)
    return [results[rule.name] for rule in rules]


def _row_level_result(
    rule: Rule,
    table: str,
    kind: str,
    kwargs: dict[str, Any],
    passed: bool,
    rows: int,
    unexpected: int,
    examples: list[Any],
    *,
    engine: str,
) -> CheckResult:
    shown = {
        k: (v.isoformat() if isinstance(v, datetime) else v)
        for k, v in kwargs.items()
        if k != "column" and not (k == "regex" and rule.kind == "dicom_uid")
    }
    if rule.kind == "in_set":
        shown["value_set"] = f"{len(kwargs['value_set'])} values"
    details = base_details(
        rule, expectation=kind, **shown, rows=rows, examples=[str(e) for e in examples], computed_by=engine
    )
    return CheckResult(rule.name, table, rule.severity, passed, unexpected, details)


def _run_with_gx(
    ctx: RunContext, table: str, built: list[tuple[Rule, str, dict[str, Any], Any]], columns: list[str]
) -> dict[str, CheckResult]:
    """GX validates each chunk of the named columns; offending rows are summed over the chunks (`mostly` per chunk)."""
    totals = {rule.name: [0, 0, [], True] for rule, *_ in built}  # rows, unexpected, examples, passed
    cursor = ctx.con.cursor()  # its own result stream: the caller's connection may hold an unfinished one
    reader = cursor.sql(f"select {', '.join(map(quoted, columns))} from {table}").to_arrow_reader(CHUNK_ROWS)
    for batch in _closing(reader, cursor):
        if batch.num_rows == 0:
            continue
        outcomes = gx.validate(batch.to_pandas(), [b[3] for b in built])
        for (rule, *_), outcome in zip(built, outcomes, strict=True):
            if outcome.error:
                raise rule.fail(f"Great Expectations could not evaluate it: {outcome.error}")
            total = totals[rule.name]
            total[0] += outcome.element_count
            total[1] += outcome.unexpected_count
            total[2] = (total[2] + outcome.examples)[: gx.EXAMPLES]
            total[3] = total[3] and outcome.success
    return {
        rule.name: _row_level_result(
            rule, table, kind, kwargs, totals[rule.name][3], *totals[rule.name][:3], engine="great_expectations"
        )
        for rule, kind, kwargs, _ in built
    }


def _closing(reader, cursor):
    try:
        yield from reader
    finally:
        cursor.close()


# ---- aggregates ---------------------------------------------------------------------------------------------------


def unique(ctx: RunContext, rule: Rule) -> Measure:
    columns = ", ".join(quoted(c) for c in rule.params["columns"])
    duplicated = f"select {columns}, count(*) as copies from {rule.table} group by all having count(*) > 1"
    surplus = ctx.con.execute(f"select coalesce(sum(copies - 1), 0)::bigint from ({duplicated})").fetchall()[0][0]
    examples = ctx.con.execute(f"{duplicated} order by copies desc, {columns} limit 5").fetchall()
    shown = [" / ".join(str(v) for v in row[:-1]) + f" ×{row[-1]}" for row in examples]
    return Measure([surplus], surplus, 0, base_details(rule, columns=list(rule.params["columns"]), examples=shown))


def unknown_ae_share(ctx: RunContext, rule: Rule) -> Measure:
    column = quoted(rule.params["column"])
    frame = ctx.con.execute(
        sql("unknown_ae_titles").replace("{table}", rule.table).replace("{column}", column)
    ).fetchall()
    rows = ctx.con.execute(f"select count(*) from {rule.table}").fetchall()[0][0]
    unknown = sum(n for _, n in frame)
    share = round(unknown / rows, 6) if rows else 0.0
    examples = [f"{ae} ×{n}" for ae, n in frame[:5]]
    details = base_details(rule, max_share=rule.params["max_share"], rows=rows, unknown_rows=unknown, examples=examples)
    return Measure([share], share, rule.params["max_share"], details)


def freshness(ctx: RunContext, rule: Rule) -> Measure:
    """Hours since each source's last harvest, or hours its newest record trails the newest record of any source;
    measured against `as_of` when given, else against the data itself (newest harvest, newest record)."""
    as_of = ctx.as_of
    rows = ctx.con.execute(sql("freshness"), {"as_of": as_of}).fetchall()
    column = 1 if rule.kind == "harvest_age" else 2
    ages = {row[0]: (round(row[column], 2) if row[column] is not None else None) for row in rows}
    missing = [s for s, hours in ages.items() if hours is None]
    values = [hours if hours is not None else float("inf") for hours in ages.values()]
    worst = max(values, default=0.0)
    reference = "as_of " + as_of.isoformat() if as_of else ("newest harvest" if column == 1 else "newest record")
    details = base_details(
        rule,
        max_hours=rule.params["max_hours"],
        measured_against=reference,
        hours_per_source=ages,
        **({"never": missing} if missing else {}),
    )
    return Measure(values, None if worst == float("inf") else worst, rule.params["max_hours"], details)


def run_aggregates(
    ctx: RunContext, measured: list[tuple[Rule, Callable[[RunContext, Rule], Measure]]]
) -> list[CheckResult]:
    """Each rule's figures measured, then Great Expectations' verdict on all of them in one validation: a validation
    costs about 0.07 s whatever it holds, one per rule most of a run of the checks on a small warehouse."""
    measures = [(rule, measure(ctx, rule)) for rule, measure in measured]
    judged = [i for i, (_, m) in enumerate(measures) if m.values]  # a rule with no figure passes
    bounds = [(measures[i][1].values, None, measures[i][1].max_value) for i in judged]
    verdicts = dict(zip(judged, gx.within_bounds(bounds), strict=True))
    return [
        CheckResult(rule.name, rule.table, rule.severity, verdicts.get(i, True), m.observed, m.details)
        for i, (rule, m) in enumerate(measures)
    ]


def run_aggregate(ctx: RunContext, rule: Rule, measure: Callable[[RunContext, Rule], Measure]) -> CheckResult:
    return run_aggregates(ctx, [(rule, measure)])[0]


AGGREGATES: dict[str, Callable[[RunContext, Rule], Measure]] = {
    "unique": unique,
    "unknown_ae_share": unknown_ae_share,
    "harvest_age": freshness,
    "record_lag": freshness,
}
