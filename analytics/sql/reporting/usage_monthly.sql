-- The billing metrics per month and establishment in scope, exact (counts and byte-days as text for Decimal).
select
    u.month,
    u.establishment_id,
    s.name,
    sum(u.studies_archived)::varchar as studies_archived,
    sum(u.instances_archived)::varchar as instances_archived,
    sum(u.bytes_archived)::varchar as bytes_archived,
    sum(u.stored_bytes)::varchar as stored_byte_days,
    sum(u.retrievals)::varchar as retrievals,
    sum(u.shares)::varchar as shares,
    sum(u.views)::varchar as views,
    coalesce(any_value(o.opinions), 0)::varchar as opinions,
    coalesce(any_value(o.opinions_on_call), 0)::varchar as opinions_on_call,
    coalesce(any_value(p.portal_views), 0)::varchar as portal_views,
    coalesce(any_value(p.portal_practitioners), 0)::varchar as portal_practitioners
from marts.fct_usage_daily as u
join scoped as s using (establishment_id)
left join (
    select month, requester_id as establishment_id,
           count(*) filter (status = 'answered') as opinions,
           count(*) filter (status = 'answered' and on_call) as opinions_on_call
    from marts.fct_opinions
    group by all
) as o using (month, establishment_id)
left join (
    select month, establishment_id, sum(views) as portal_views, count(distinct practitioner_key) as portal_practitioners
    from marts.fct_portal_access
    group by all
) as p using (month, establishment_id)
where u.usage_date >= $first_day::date and u.usage_date < $end_day::date
group by u.month, u.establishment_id, s.name
order by u.month, u.establishment_id
