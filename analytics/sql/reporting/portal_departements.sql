-- Community-portal adoption per Paris month and département of the establishment owning the study: distinct
-- practitioners (one doctor viewing studies of two establishments of the département is one) and views.
with access as (
    select p.month, coalesce(s.departement, 'non attribué') as departement, p.practitioner_key, p.views
    from marts.fct_portal_access as p
    join scoped as s using (establishment_id)
    where p.month >= strftime($first_day::date, '%Y-%m') and p.month < strftime($end_day::date, '%Y-%m')
)

select
    month,
    departement,
    count(distinct practitioner_key)::bigint as practitioners,
    sum(views)::bigint as views
from access
group by all
having sum(views) > 0
order by month, departement
