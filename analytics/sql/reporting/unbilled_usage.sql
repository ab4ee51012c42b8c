-- Usage nobody is billed for, per month: UNATTRIBUTED (unknown sender) and days outside an establishment's active
-- period (before its go-live, after its end).
with days as (
    select
        u.month, u.establishment_id, s.name,
        case when u.establishment_id = 'UNATTRIBUTED' then 'non attribué'
             when s.actual_go_live is null or u.usage_date < s.actual_go_live then 'avant la mise en production'
             else 'après la fin du contrat' end as reason,
        u.studies_archived, u.instances_archived, u.bytes_archived, u.retrievals, u.shares, u.views
    from marts.fct_usage_daily as u
    join scoped as s using (establishment_id)
    where u.usage_date >= $first_day::date and u.usage_date < $end_day::date
      and (u.establishment_id = 'UNATTRIBUTED' or s.actual_go_live is null or u.usage_date < s.actual_go_live
           or (s.end_date is not null and u.usage_date > s.end_date))
)

select
    month, establishment_id, name, reason,
    sum(studies_archived)::bigint as studies_archived, sum(instances_archived)::bigint as instances_archived,
    sum(bytes_archived)::bigint as bytes_archived, sum(retrievals)::bigint as retrievals,
    sum(shares)::bigint as shares, sum(views)::bigint as views
from days
group by all
having sum(studies_archived + instances_archived + retrievals + shares + views) > 0
order by month, establishment_id
