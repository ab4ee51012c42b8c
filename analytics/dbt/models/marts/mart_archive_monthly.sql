-- Archive activity per establishment, Paris month and modality: mart_archive_daily summed over each month, for the
-- reporting queries whose filters are whole months (a 500-site year: 757 k daily rows, 27 k monthly ones).
-- Grain: (establishment_id, month, modality).
select
    establishment_id,
    date_trunc('month', received_date)::date as month,
    modality,
    sum(studies_received)::bigint as studies_received,
    sum(instances_received)::bigint as instances_received,
    sum(bytes_received) as bytes_received
from {{ ref('mart_archive_daily') }}
where received_date is not null
group by all
