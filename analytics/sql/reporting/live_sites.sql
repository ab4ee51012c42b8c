-- Live establishments on $as_of with their last study received and the days since (silent sites on top; those
-- silent for 30 days are the programme's warning, programme.silent_sites).
with live as (
    select * from scoped
    where actual_go_live is not null and actual_go_live <= $as_of::date
      and (end_date is null or end_date >= $as_of::date)
),

recent as (
    select establishment_id, max(received_date) as last_study_date
    from marts.mart_archive_daily
    where studies_received > 0 and received_date <= $as_of::date
    group by establishment_id
)

select
    live.establishment_id, live.name, live.departement, live.offer, live.actual_go_live, recent.last_study_date,
    $as_of::date - coalesce(recent.last_study_date, live.actual_go_live) as days_silent
from live
left join recent using (establishment_id)
order by days_silent desc, live.name
