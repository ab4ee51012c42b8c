-- Bytes stored at the end of each month (sum over the establishments in scope of their last day's stored bytes).
with last_days as (
    select u.month, u.establishment_id, arg_max(u.stored_bytes, u.usage_date) as stored_bytes
    from marts.fct_usage_daily as u
    join scoped using (establishment_id)
    where u.usage_date >= $first_day::date and u.usage_date < $end_day::date
    group by all
)

select strptime(month || '-01', '%Y-%m-%d')::date as month, sum(stored_bytes)::double as stored_bytes
from last_days
group by month
order by month
