-- Audit events and failures (EventOutcomeIndicator <> 0) per Paris month, event type and the establishments at
-- either end. Grain: (month, event_id, source_establishment_id, destination_establishment_id).
with events as (
    select
        date_trunc('month', event_date)::date as month,
        event_id,
        source_establishment_id,
        destination_establishment_id,
        succeeded
    from {{ ref('stg_audit_events') }}
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
    o.destination_establishment_id, o.events, o.failures
from outcomes as o
left join {{ source('ref', 'audit_event_types') }} as t using (event_id)
