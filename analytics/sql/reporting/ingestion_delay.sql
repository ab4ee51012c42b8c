-- Ingestion delay per month: percentiles of the hours from the study time (StudyDate + StudyTime, Paris) to the first
-- receipt of the study, over the studies in scope, from the 1-hour histogram marts.mart_ingestion_delay. Each
-- percentile is the upper bound of its 1-hour bucket; studies_time_unknown counts the studies measured from midnight
-- of their StudyDate (no valid StudyTime), whose delay is over-stated by up to 24 h.
with histogram as (
    select h.month, h.delay_hours, sum(h.studies) as studies, sum(h.studies_time_unknown) as studies_time_unknown
    from marts.mart_ingestion_delay as h
    join scoped using (establishment_id)
    where h.month >= $first_day::date and h.month < $end_day::date
    group by all
),

cumulative as (
    select
        month, delay_hours, studies_time_unknown,
        sum(studies) over (partition by month order by delay_hours) as running,
        sum(studies) over (partition by month) as total
    from histogram
)

select
    month,
    max(total)::bigint as studies,
    sum(studies_time_unknown)::bigint as studies_time_unknown,
    (min(delay_hours) filter (where running >= 0.5 * total) + 1)::double as p50_hours,
    (min(delay_hours) filter (where running >= 0.9 * total) + 1)::double as p90_hours,
    (min(delay_hours) filter (where running >= 0.95 * total) + 1)::double as p95_hours,
    (min(delay_hours) filter (where running >= 0.99 * total) + 1)::double as p99_hours
from cumulative
group by month
order by month
