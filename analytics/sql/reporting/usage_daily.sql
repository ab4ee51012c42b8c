-- One establishment's days of one month: the usage behind an invoice's lines.
select
    u.usage_date, u.establishment_id, u.studies_archived, u.instances_archived, u.bytes_archived::bigint as bytes_archived,
    u.stored_bytes::double / 1e9 as stored_gb, u.retrievals, u.shares, u.views
from marts.fct_usage_daily as u
join scoped using (establishment_id)
where u.month = $month::varchar
order by u.usage_date
