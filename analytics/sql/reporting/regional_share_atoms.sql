-- The atoms of the regional sharing matrix (analytics/reporting/regional.py): shares over the period per sending
-- establishment and destination (as sharing_departements.sql names it), with the sender's filter attributes.
with flows as (
    select f.establishment_id, f.destination_establishment_id, f.destination ilike 'PORTAIL%' as to_portal, f.shares
    from marts.fct_share_flows_monthly as f
    where f.month >= strftime($first_day::date, '%Y-%m') and f.month < strftime($end_day::date, '%Y-%m')
)

select
    s.establishment_id,
    coalesce(s.departement, 'non attribué') as departement,
    s.departement as departement_filter,
    s.offer as offer_filter,
    case
        when f.destination_establishment_id is not null then coalesce(r.departement, 'non attribué')
        when f.to_portal then 'portail ville'
        else 'hors programme'
    end as destination,
    sum(f.shares)::bigint as shares
from flows as f
join scoped as s using (establishment_id)
left join marts.dim_establishments as r on r.establishment_id = f.destination_establishment_id
group by all
having sum(f.shares) > 0
order by all
