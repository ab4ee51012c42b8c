-- Archive activity per establishment, Paris month and modality: mart_archive_daily summed over each month, for the
-- reporting queries whose filters are whole months (a 500-site year: 757 k daily rows, 27 k monthly ones).
-- Grain: (establishment_id, month, modality).
-- Incremental by month: a build recounts the months of the days mart_archive_daily recounted, and only those.
{%- set months = rewritten_months({'int_studies': 'first_received_date', 'stg_dicom_instances': 'received_date'}) %}
{{ config(materialized='incremental', incremental_strategy='delete+insert', replace_where='month in ' ~ months) }}
select
    establishment_id,
    date_trunc('month', received_date)::date as month,
    modality,
    sum(studies_received)::bigint as studies_received,
    sum(instances_received)::bigint as instances_received,
    sum(bytes_received) as bytes_received,
    {{ build_seq() }}
from {{ ref('mart_archive_daily') }}
where received_date is not null
{% if is_incremental() %}
    and {{ in_months('received_date', months) }}
{% endif %}
group by all
