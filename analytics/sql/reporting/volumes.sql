-- Studies, instances and bytes received per month (or, with $per_month false, over the whole period: one cell per
-- dimension value, dated the period's first day) and one dimension ($dimension: departement, modality, category,
-- sector or establishment). $suppress withholds cells under 10 studies (and their instances and bytes), so a
-- period total is suppressed on its own total, not summed from the unsuppressed months.
with received as (
    select
        case when $per_month::boolean then a.month else $first_day::date end as month,
        case $dimension::varchar
            when 'departement' then s.departement
            when 'modality' then a.modality
            when 'category' then s.category
            when 'sector' then s.sector
            when 'offer' then s.offer
            when 'region' then 'Île-de-France'
            else s.name
        end as dimension,
        a.studies_received, a.instances_received, a.bytes_received
    from scoped as s
    join marts.mart_archive_monthly as a using (establishment_id)  -- filters are whole months
    where a.month >= $first_day::date and a.month < $end_day::date
),

cells as (
    select
        month, coalesce(dimension, 'non attribué') as dimension,
        sum(studies_received)::bigint as studies,
        sum(instances_received)::bigint as instances,
        sum(bytes_received)::bigint as bytes
    from received
    group by all
)

select
    month, dimension,
    case when $suppress::boolean and studies < 10 then null else studies end as studies,
    case when $suppress::boolean and studies < 10 then null else instances end as instances,
    case when $suppress::boolean and studies < 10 then null else bytes end as bytes,
    $suppress::boolean and studies < 10 as suppressed
from cells
order by month, dimension
