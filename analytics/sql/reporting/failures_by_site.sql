-- Audit events and failures (EventOutcomeIndicator <> 0) per Paris month and establishment, counts not only rates:
-- an event counts for the establishment in scope at its source, else at its destination (marts.mart_audit_outcomes).
with outcomes as (
    select
        o.month,
        coalesce(s.establishment_id, d.establishment_id) as establishment_id,
        o.events,
        o.failures
    from marts.mart_audit_outcomes as o
    left join scoped as s on s.establishment_id = o.source_establishment_id
    left join scoped as d on d.establishment_id = o.destination_establishment_id
    where o.month >= date_trunc('month', $first_day::date) and o.month < $end_day::date
)

select
    outcomes.month, outcomes.establishment_id, any_value(scoped.name) as name,
    sum(outcomes.events)::bigint as events, sum(outcomes.failures)::bigint as failures
from outcomes
join scoped using (establishment_id)
group by outcomes.month, outcomes.establishment_id
order by outcomes.month, outcomes.establishment_id
