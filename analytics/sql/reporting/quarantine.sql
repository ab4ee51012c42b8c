-- Quarantined files and records per source and reason over the period (regional roles only).
select source, reason, sum(files)::bigint as files, sum(records)::bigint as records, max(quarantined_date) as last_date
from marts.mart_quarantine
where quarantined_date >= $first_day::date and quarantined_date < $end_day::date
group by all
order by sum(files) + sum(records) desc
