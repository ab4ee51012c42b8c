-- Per harvested source: when it was last harvested, the newest record it holds, and its quarantine total. Grain: source.
with runs as (
    select
        source,
        any_value(kind) as kind,
        count(*) as harvests,
        max(finished_at) as last_harvest_at,
        sum(records_added) as records_added,
        sum(quarantined) as quarantined
    from {{ source('raw', 'harvest_runs') }}
    group by source
),

newest as (
    select source, max(received_at) as newest_record_at from {{ source('raw', 'dicom_instances') }} group by source
    union all
    select source, max(event_time) from {{ source('raw', 'audit_events') }} group by source
)

select runs.*, newest.newest_record_at
from runs
left join newest using (source)
