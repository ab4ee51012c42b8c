-- Community-portal adoption per Paris month over the viewer's establishments (the region, or what the filters keep):
-- distinct practitioners across them all, and views. Every metered month of the period has a row (0: no access).
with metered as (
    select month
    from marts.fct_metered_months
    where month >= strftime($first_day::date, '%Y-%m') and month < strftime($end_day::date, '%Y-%m')
),

access as (
    select p.month, p.practitioner_key, p.views
    from marts.fct_portal_access as p
    join scoped as s using (establishment_id)
    where p.month >= strftime($first_day::date, '%Y-%m') and p.month < strftime($end_day::date, '%Y-%m')
),

totals as (
    select month, count(distinct practitioner_key)::bigint as practitioners, sum(views)::bigint as views
    from access
    group by month
)

select
    m.month,
    coalesce(t.practitioners, 0)::bigint as practitioners,
    coalesce(t.views, 0)::bigint as views
from (select month from metered union select month from totals) as m
left join totals as t using (month)
order by m.month
