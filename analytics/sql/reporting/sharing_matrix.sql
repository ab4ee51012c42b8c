-- Shares between establishments and to the community portal over the period: sender x destination.
-- An establishment viewer sees the shares it sent and those it received, nothing else.
with flows as (
    select f.*
    from marts.fct_share_flows_monthly as f  -- filters are whole months: the monthly sums serve
    where f.month >= strftime($first_day::date, '%Y-%m') and f.month < strftime($end_day::date, '%Y-%m')
      and (f.establishment_id in (select establishment_id from scoped)
           or ($scope::varchar is not null and f.destination_establishment_id = $scope::varchar))
),

named as (
    select
        f.establishment_id,
        coalesce(sender.name, f.establishment_id) as sender,
        f.destination_establishment_id,
        case
            when receiver.name is not null then receiver.name
            when f.destination ilike 'PORTAIL%' then 'Portail médecine de ville'
            else 'Hors programme (' || f.destination || ')'
        end as destination,
        f.shares
    from flows as f
    left join marts.dim_establishments as sender on sender.establishment_id = f.establishment_id
    left join marts.dim_establishments as receiver on receiver.establishment_id = f.destination_establishment_id
),

cells as (
    select establishment_id, sender, destination_establishment_id, destination, sum(shares)::bigint as shares
    from named
    group by all
)

select
    establishment_id, sender, destination_establishment_id, destination,
    case when $suppress::boolean and shares < 10 then null else shares end as shares,
    $suppress::boolean and shares < 10 as suppressed
from cells
order by sender, destination
