-- The atoms of the regional page (analytics/reporting/regional.py): studies per establishment, month and modality
-- over the period, with the attributes the page groups and filters by. Every number the page shows is a sum of these.
with received as (
    select
        s.establishment_id,
        coalesce(s.departement, 'non attribué') as departement,
        s.departement as departement_filter,
        s.offer as offer_filter,
        coalesce(s.category, 'non attribué') as category,
        coalesce(s.sector, 'non attribué') as sector,
        a.month,
        coalesce(a.modality, 'non attribué') as modality,
        a.studies_received
    from scoped as s
    join marts.mart_archive_monthly as a using (establishment_id)
    where a.month >= $first_day::date and a.month < $end_day::date
)

select
    establishment_id, departement, departement_filter, offer_filter, category, sector, month, modality,
    sum(studies_received)::bigint as studies
from received
group by all
having sum(studies_received) > 0
order by all
