-- The atoms of the portal's distinct practitioners (analytics/reporting/portal.py): in each Paris month, how many
-- practitioners viewed studies of exactly this set of establishments (their "signature"). A distinct count over any
-- set of establishments is the sum of the atoms whose signature meets it: the counts become sums.
with seen as (
    select p.month, p.practitioner_key, list_sort(list(distinct p.establishment_id)) as signature
    from marts.fct_portal_access as p
    join scoped as s using (establishment_id)
    where p.practitioner_key is not null
      and p.month >= strftime($first_day::date, '%Y-%m') and p.month < strftime($end_day::date, '%Y-%m')
    group by p.month, p.practitioner_key
)

select month, signature, count(*)::bigint as practitioners
from seen
group by all
order by all
