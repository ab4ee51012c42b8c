-- Audit events and failures (EventOutcomeIndicator <> 0) per Paris month, event type and the establishments at
-- either end. Grain: (month, event_id, source_establishment_id, destination_establishment_id).
-- Incremental by Paris month: an audit record never changes once harvested, so a build recounts only the months of
-- the records it added (delete+insert of those months), reading their days of stg_audit_events, not the history.
{{ config(materialized='incremental', incremental_strategy='delete+insert', unique_key='month') }}
with months as (
{% if is_incremental() %}
    select distinct date_trunc('month', event_date)::date as month
    from {{ ref('stg_audit_events') }}
    where harvest_id in (select harvest_id from {{ source('build', 'increment') }})
{% else %}
    select null::date as month where false
{% endif %}
),

events as (
    select
        date_trunc('month', event_date)::date as month,
        event_id,
        source_establishment_id,
        destination_establishment_id,
        succeeded
    from {{ ref('stg_audit_events') }}
{% if is_incremental() %}
    where event_date >= (select min(month) from months)  -- a bound DuckDB prunes by, before the exact months
        and date_trunc('month', event_date)::date in (select month from months)
{% endif %}
),

outcomes as (
    select
        month, event_id, source_establishment_id, destination_establishment_id,
        count(*) as events,
        count(*) filter (where not succeeded) as failures
    from events
    group by all
)

select
    o.month, o.event_id, coalesce(t.event_name, o.event_id) as event_type, o.source_establishment_id,
    o.destination_establishment_id, o.events, o.failures,
    {{ build_seq() }}
from outcomes as o
left join {{ source('ref', 'audit_event_types') }} as t using (event_id)
