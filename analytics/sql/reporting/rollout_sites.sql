-- One row per establishment in scope: its roll-out stage on $as_of and its go-live delay in days.
with sites as (
    select * from scoped where establishment_id <> 'UNATTRIBUTED'
),

staged as (
    select
        *,
        case
            when end_date is not null and end_date < $as_of::date then 'ended'
            when actual_go_live is not null and actual_go_live <= $as_of::date then 'live'
            when planned_go_live is not null then 'planned'
            else 'signed'
        end as stage,
        case
            when actual_go_live is not null then actual_go_live - planned_go_live
            when planned_go_live < $as_of::date then $as_of::date - planned_go_live  -- late and still not live
        end as delay_days
    from sites
)

select
    establishment_id, name, departement, category, sector, offer, stage, adhesion_date, planned_go_live,
    actual_go_live, end_date, delay_days, coalesce(delay_days > 0, false) as late
from staged
order by coalesce(actual_go_live, planned_go_live, adhesion_date), establishment_id
