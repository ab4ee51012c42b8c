-- Shares over the period from the sending establishments in scope, by sender département and destination
-- (département of the receiving establishment, the community portal, or outside the programme).
with flows as (
    select f.establishment_id, f.destination_establishment_id, f.destination ilike 'PORTAIL%' as to_portal, f.shares
    from marts.fct_share_flows_monthly as f  -- filters are whole months: the monthly sums serve
    where f.month >= strftime($first_day::date, '%Y-%m') and f.month < strftime($end_day::date, '%Y-%m')
),

by_pair as (  -- establishments first: the joins below then run on ~1 row per pair, not per day
    select establishment_id, destination_establishment_id, to_portal, sum(shares) as shares
    from flows
    group by all
),

named as (
    select
        coalesce(s.departement, 'non attribué') as sender,
        case
            when p.destination_establishment_id is not null then coalesce(r.departement, 'non attribué')
            when p.to_portal then 'portail ville'
            else 'hors programme'
        end as destination,
        p.shares
    from by_pair as p
    join scoped as s using (establishment_id)
    left join marts.dim_establishments as r on r.establishment_id = p.destination_establishment_id
),

cells as (
    select sender, destination, sum(shares)::bigint as shares
    from named
    group by all
)

select
    sender, destination,
    case when $suppress::boolean and shares < 10 then null else shares end as shares,
    $suppress::boolean and shares < 10 as suppressed
from cells
order by sender, destination
