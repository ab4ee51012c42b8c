-- One row per audit event and study, with the participants recognised: the platform's own AE titles, the
-- establishments that claim the source and destination AE titles, and the community portal (ref.portal_ae_titles:
-- a change of [portal] ae_titles changes the reference fingerprint, so the next build is a full one).
-- Incremental: only the records of new harvests are added (a record never changes once harvested, and the harvest
-- stores each record once). A build replaces the rows of the harvests it reads: keyed by harvest_id, whose values
-- begin with the harvest's start time, so finding the rows to replace skips the older ones (see docs/scaling.md).
-- study_no: the study's number (stg_study_numbers), by which the models and the metering find its rows.
{{ config(materialized='incremental', incremental_strategy='delete+insert', unique_key='harvest_id') }}
with events as (
    select * from {{ source('raw', 'audit_events') }}
{% if is_incremental() %}
    where harvest_id in (select harvest_id from {{ source('build', 'increment') }})
{% endif %}
),

portal as (
    select
        coalesce(list(ae_title_key), []::varchar[]) as titles,
        coalesce(list(participant_key) filter (participant_key is not null), []::varchar[]) as keys
    from {{ source('ref', 'portal_ae_titles') }}
),

named as (
    select
        e.*,
        t.event_name as event_type,  -- CID 400's name, null for another code (data check audit_event_ids_known)
        src.establishment_id as source_establishment_id,
        dst.establishment_id as destination_establishment_id,
        src_platform.ae_title_key is not null as source_is_platform,
        dst_platform.ae_title_key is not null as destination_is_platform,
        n.study_no,
        coalesce(list_contains(p.titles, e.destination_ae_key), false)
            or coalesce(list_has_any(p.keys, e.participant_ae_keys), false) as via_portal
    from events as e
    cross join portal as p
    left join {{ source('ref', 'audit_event_types') }} as t on t.event_id = e.event_id
    left join {{ source('ref', 'establishment_ae_titles') }} as src on src.ae_title_key = e.source_ae_key
    left join {{ source('ref', 'establishment_ae_titles') }} as dst on dst.ae_title_key = e.destination_ae_key
    left join {{ source('ref', 'platform_ae_titles') }} as src_platform on src_platform.ae_title_key = e.source_ae_key
    left join {{ source('ref', 'platform_ae_titles') }} as dst_platform on dst_platform.ae_title_key = e.destination_ae_key
    left join {{ ref('stg_study_numbers') }} as n on n.study_hash = {{ uid_hash('e.study_instance_uid') }}
)

select
    record_key,
    message_sha256,
    event_id,
    event_type,
    event_type_code,
    action,
    outcome,
    coalesce(outcome, 0) = 0 as succeeded,
    event_time,
    timezone('Europe/Paris', event_time)::date as event_date,
    source_ae,
    destination_ae,
    source_is_platform,
    destination_is_platform,
    source_establishment_id,
    destination_establishment_id,
    audit_source_id,
    study_instance_uid,
    study_no,
    instance_count,
    patient_key,
    practitioner_key,
    via_portal,
    source,
    file_key,  -- the log it came from (its path stays in raw.harvest_files: paths may name patients)
    line,
    harvest_id,
    {{ build_seq() }}
from named
