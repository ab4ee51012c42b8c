-- Archive activity per establishment, Paris day and modality: studies first received that day, instances and
-- bytes received that day. Grain: (establishment_id, received_date, modality).
-- Incremental by day: a build recounts the days on which it wrote or replaced a study (int_studies) or an instance
-- (stg_dicom_instances), old days included, and only those.
{%- set days = rewritten_days({'int_studies': 'first_received_date', 'stg_dicom_instances': 'received_date'}) %}
{{ config(materialized='incremental', incremental_strategy='delete+insert', replace_where='received_date in ' ~ days) }}
with instances as (
    select
        establishment_id,
        received_date,
        coalesce(modality, 'UNKNOWN') as modality,
        study_instance_uid,
        size_bytes
    from {{ ref('stg_dicom_instances') }}
    {% if is_incremental() %}where received_date in {{ days }}{% endif %}
),

studies as (
    select
        establishment_id,
        first_received_date as received_date,
        -- the first of its modalities in alphabetical order, passing over SR: a tele-opinion's report sent into a US
        -- study ('SR/US') leaves it a US study; a study of reports only stays SR
        coalesce(split_part(modalities, '/', if(modalities like 'SR/%', 2, 1)), 'UNKNOWN') as modality,
        count(*) as studies_received
    from {{ ref('int_studies') }}
    {% if is_incremental() %}where first_received_date in {{ days }}{% endif %}
    group by all
),

volumes as (
    select
        establishment_id,
        received_date,
        modality,
        count(*) as instances_received,
        sum(size_bytes) as bytes_received
    from instances
    group by all
)

select
    establishment_id,
    received_date,
    modality,
    coalesce(s.studies_received, 0) as studies_received,
    coalesce(v.instances_received, 0) as instances_received,
    coalesce(v.bytes_received, 0) as bytes_received,
    {{ build_seq() }}
from volumes as v
full outer join studies as s using (establishment_id, received_date, modality)
