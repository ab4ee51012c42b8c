-- Per harvested source: when it was last harvested, the newest record it holds, and its quarantine total. Grain: source.
-- Incremental: the newest record is the newer of the one already known and the newest the build's harvests added (raw
-- records are never removed), so a build reads the night's records, not all of history; every source is rewritten.
{{ config(materialized='incremental', incremental_strategy='delete+insert', unique_key='source') }}
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
    select source, max(received_at) as newest_record_at from {{ source('raw', 'dicom_instances') }}
    {% if is_incremental() %}where harvest_id in (select harvest_id from {{ source('build', 'increment') }}){% endif %}
    group by source
    union all
    select source, max(event_time) from {{ source('raw', 'audit_events') }}
    {% if is_incremental() %}where harvest_id in (select harvest_id from {{ source('build', 'increment') }}){% endif %}
    group by source
{% if is_incremental() %}
    union all
    select source, newest_record_at from {{ this }}
{% endif %}
),

newest_by_source as (
    select source, max(newest_record_at) as newest_record_at from newest group by source
)

select runs.*, n.newest_record_at, {{ build_seq() }}
from runs
left join newest_by_source as n using (source)
