-- Quarantined files and log records per source, reason and Paris day: what the data-quality dashboard shows.
with quarantined as (
    select source, reason, (quarantined_at at time zone 'Europe/Paris')::date as quarantined_date, line
    from {{ source('raw', 'quarantine') }}
)

select
    source,
    regexp_replace(reason, '[0-9]+', 'N', 'g') as reason,  -- offsets and counts vary; the kind of problem does not
    quarantined_date,
    count(*) filter (where line is null) as files,
    count(*) filter (where line is not null) as records
from quarantined
group by all
