"""Great Expectations, behind one function: validate a pandas DataFrame against expectations, get plain results.

GX is imported here only, on first use: the import costs seconds, which the pipeline definitions and the CLI's
other commands must not pay. The context is ephemeral (nothing written to disk, no network), progress bars are off.
The GX SQL datasource is not used: with DuckDB it fetches after the connection is closed (GX issues #10738,
#11579), so frames are pulled from DuckDB by the caller.
"""

from __future__ import annotations

import itertools
import logging
import threading
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import pandas as pd

EXAMPLES = 5  # offending values reported per check
_context: Any = None
_lock = threading.Lock()
_counter = itertools.count()


@dataclass(frozen=True)
class Outcome:
    success: bool
    element_count: int
    unexpected_count: int
    examples: list[Any]
    error: str | None  # GX raised while computing (a bad argument, a column of the wrong type)


def _gx_context():
    global _context
    with _lock:
        if _context is None:
            # this GX logger forces itself to INFO at import ("Created temporary directory ..." on stderr, where the
            # CLI's callers read messages); a filter set before the import outlives that
            quiet = logging.getLogger("great_expectations.data_context.types.base")
            quiet.addFilter(lambda record: record.levelno >= logging.WARNING)
            import great_expectations as gx
            from great_expectations.data_context.types.base import ProgressBarsConfig

            _context = gx.get_context(mode="ephemeral")
            _context.variables.progress_bars = ProgressBarsConfig(globally=False)
        return _context


def build(expectation_type: str, kwargs: dict[str, Any]) -> Any:
    """The GX expectation object; raises ValueError with GX's own words when the arguments are wrong."""
    import great_expectations.expectations as gxe
    from pydantic import ValidationError
    from pydantic.v1 import ValidationError as PydanticV1Error

    class_name = "".join(part.capitalize() for part in expectation_type.split("_"))
    cls = getattr(gxe, class_name, None) or next(
        (c for n, c in vars(gxe).items() if n.lower() == class_name.lower()), None
    )
    if cls is None:
        raise ValueError(f"Great Expectations has no expectation {expectation_type}")
    try:
        return cls(**kwargs)
    except (ValidationError, PydanticV1Error, TypeError) as exc:
        raise ValueError("; ".join(line for line in str(exc).splitlines()[1:] if line.strip()) or str(exc)) from None


def validate(frame: pd.DataFrame, expectations: list[Any]) -> list[Outcome]:
    """Validate one frame against the expectations (one suite, one batch); outcomes in the same order."""
    import great_expectations as gx

    context = _gx_context()
    with _lock:  # GX's in-memory stores are not made for concurrent writers
        n = next(_counter)
        source = context.data_sources.add_pandas(f"sansfilm_{n}")
        batch_definition = source.add_dataframe_asset("frame").add_batch_definition_whole_dataframe("all")
        suite = context.suites.add(gx.ExpectationSuite(f"sansfilm_{n}"))
    try:
        for index, expectation in enumerate(expectations):
            suite.add_expectation(expectation.copy(update={"id": None, "meta": {"sansfilm_index": index}}, deep=True))
        batch = batch_definition.get_batch(batch_parameters={"dataframe": frame})
        result = batch.validate(suite, result_format={"result_format": "BASIC", "partial_unexpected_count": EXAMPLES})
    finally:
        with _lock:
            context.suites.delete(f"sansfilm_{n}")
            context.data_sources.delete(f"sansfilm_{n}")
    outcomes: list[Outcome | None] = [None] * len(expectations)
    for item in result.results:
        info = item.result or {}
        error = item.exception_info.get("exception_message") if item.exception_info.get("raised_exception") else None
        outcomes[item.expectation_config.meta["sansfilm_index"]] = Outcome(
            success=bool(item.success),
            element_count=int(info.get("element_count") or len(frame)),
            unexpected_count=int(info.get("unexpected_count") or 0),
            examples=[plain(v) for v in info.get("partial_unexpected_list") or []][:EXAMPLES],
            error=error,
        )
    return [o for o in outcomes if o is not None]


def within_bounds(checks: list[tuple[list[float], float | None, float | None]]) -> list[bool]:
    """GX's verdict on figures sansfilm computed (counts, shares, ages): for each check, (values, min, max), whether
    every value lies within its bounds; one validation for them all (a column per check; shorter ones padded with
    nulls, which GX leaves out). An infinite value (a source never harvested) is out of any finite bound."""
    longest = max((len(values) for values, _, _ in checks), default=0)
    frame = pd.DataFrame(
        {
            f"c{i}": [1e300 if v == float("inf") else v for v in values] + [None] * (longest - len(values))
            for i, (values, _, _) in enumerate(checks)
        },
        dtype="float64",
    )
    built = [
        build("expect_column_values_to_be_between", {"column": f"c{i}", "min_value": low, "max_value": high})
        for i, (_, low, high) in enumerate(checks)
    ]
    return [outcome.success for outcome in validate(frame, built)] if checks else []


def plain(value: Any) -> Any:
    """JSON-friendly example values (timestamps as ISO text, NaN as None)."""
    if value is None or (isinstance(value, float) and value != value):
        return None
    if isinstance(value, (datetime, date)):  # pandas' Timestamp is a datetime
        return value.isoformat()
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value
