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
    sum(u.views)::varchar as views
from marts.fct_usage_daily as u
join scoped as s using (establishment_id)
where u.usage_date >= $first_day::date and u.usage_date < $end_day::date
group by all
order by u.month, u.establishment_id
