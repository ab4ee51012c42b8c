-- Audit events and failures (EventOutcomeIndicator <> 0) per event type over the period. Unfiltered regional
-- viewers see every event; otherwise only events whose source or destination belongs to an establishment in scope.
with events as (
    select e.event_id, e.event_type, e.succeeded
    from staged.stg_audit_events as e
    where e.event_date >= $first_day::date and e.event_date < $end_day::date
      and (($scope::varchar is null and $departement::varchar is null and $offer::varchar is null
            and $establishment::varchar is null)
           or e.source_establishment_id in (select establishment_id from scoped)
           or e.destination_establishment_id in (select establishment_id from scoped))
)

select
    event_id, coalesce(event_type, event_id) as event_type,
    count(*) as events,
    count(*) filter (where not succeeded) as failures,
    count(*) filter (where not succeeded) / count(*) as failure_rate
from events
group by all
order by events desc
