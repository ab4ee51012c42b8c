-- The atoms of the portal's views (analytics/reporting/portal.py): community-portal views per establishment owning
-- the study and Paris month over the period, with the attributes the page groups and filters by. Every view count
-- the portal section shows is a sum of these.
select
    s.establishment_id,
    coalesce(s.departement, 'non attribué') as departement,
    s.departement as departement_filter,
    s.offer as offer_filter,
    p.month,
    sum(p.views)::bigint as views
from marts.fct_portal_access as p
join scoped as s using (establishment_id)
where p.month >= strftime($first_day::date, '%Y-%m') and p.month < strftime($end_day::date, '%Y-%m')
group by all
having sum(p.views) > 0
order by all
