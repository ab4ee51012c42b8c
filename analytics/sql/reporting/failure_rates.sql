-- Audit events and failures (EventOutcomeIndicator <> 0) per event type over the period (marts.mart_audit_outcomes).
-- Unfiltered regional viewers see every event; otherwise only events whose source or destination belongs to an
-- establishment in scope.
with events as (
    select o.event_id, o.event_type, o.events, o.failures
    from marts.mart_audit_outcomes as o
    where o.month >= date_trunc('month', $first_day::date) and o.month < $end_day::date
      and (($scope::varchar is null and $departement::varchar is null and $offer::varchar is null
            and $establishment::varchar is null)
           or o.source_establishment_id in (select establishment_id from scoped)
           or o.destination_establishment_id in (select establishment_id from scoped))
)

select
    event_id, any_value(event_type) as event_type,
    sum(events)::bigint as events,
    sum(failures)::bigint as failures,
    sum(failures) / sum(events) as failure_rate
from events
group by event_id
order by events desc
