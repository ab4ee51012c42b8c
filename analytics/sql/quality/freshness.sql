-- Per harvested source: hours since its last finished harvest and hours its newest record trails, both measured
-- against $as_of when given, else against the data itself (the newest harvest of any source, the newest record of
-- any source), never the wall clock, so that a result depends only on the warehouse.
with sources as (
    select source, last_harvest_at, newest_record_at from marts.mart_source_freshness
),

reference as (
    select
        coalesce($as_of::timestamptz, max(last_harvest_at)) as harvest_reference,
        coalesce($as_of::timestamptz, max(newest_record_at)) as record_reference
    from sources
)

select
    s.source,
    epoch(r.harvest_reference - s.last_harvest_at) / 3600 as harvest_age_hours,
    epoch(r.record_reference - s.newest_record_at) / 3600 as record_lag_hours
from sources as s
cross join reference as r
order by s.source
