-- Studies received per month and establishment since its go-live ($suppress: counts under 10 are withheld).
with activity as (
    select
        s.establishment_id,
        s.name,
        date_trunc('month', a.received_date)::date as month,
        date_diff('month', date_trunc('month', s.actual_go_live), date_trunc('month', a.received_date)) as months_live,
        a.studies_received
    from scoped as s
    join marts.mart_archive_daily as a using (establishment_id)
    where s.actual_go_live is not null
      and a.received_date >= s.actual_go_live
      and a.received_date >= $first_day::date and a.received_date < $end_day::date
),

monthly as (
    select establishment_id, name, month, months_live, sum(studies_received)::bigint as studies
    from activity
    group by all
)

select
    establishment_id, name, month, months_live,
    case when $suppress::boolean and studies < 10 then null else studies end as studies,
    $suppress::boolean and studies < 10 as suppressed
from monthly
order by month, establishment_id
