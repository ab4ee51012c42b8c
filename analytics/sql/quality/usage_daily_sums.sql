-- One metered month's daily usage rows summed per establishment by their own day (usage_date inside the Paris
-- month), to compare with what metering reports for the month (analytics.metering.monthly_usage, by month column).
-- Parameters: $first_day, $next_first_day.
select
    establishment_id,
    sum(studies_archived)::varchar as studies_archived,
    sum(instances_archived)::varchar as instances_archived,
    sum(bytes_archived)::varchar as bytes_archived,
    sum(stored_bytes)::varchar as stored_byte_days,
    sum(retrievals)::varchar as retrievals,
    sum(shares)::varchar as shares,
    sum(views)::varchar as views
from marts.fct_usage_daily
where usage_date >= $first_day and usage_date < $next_first_day
group by establishment_id
order by establishment_id
