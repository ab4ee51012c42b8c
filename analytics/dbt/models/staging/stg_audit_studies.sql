-- What the audit logs say of each study's reception and deletion: its first successful receipt (110104) by a platform
-- AE title, with the establishment claiming that receipt's Source AE title (null when none does: the earliest receipt
-- decides, even unknown), and its first successful deletion (110105). One row per study named by either.
-- stg_dicom_instances dates the instances the archive gave no reception time with first_receipt_at; int_study_owners
-- takes the owner of a study known only from the audit logs, and its deletion, from here.
-- Incremental: minima combine, so the studies the build's new records name are merged with what this table already
-- holds for them, never recomputed from every audit record of history (ties of time go to the smaller record_key).
{{ config(materialized='incremental', incremental_strategy='delete+insert', unique_key='study_instance_uid') }}
with events as (
    select study_instance_uid, event_id, event_time, record_key, source_establishment_id
    from {{ ref('stg_audit_events') }}
    where study_instance_uid is not null and succeeded
        and (event_id = '110104' and destination_is_platform or event_id = '110105')
{% if is_incremental() %}
        and harvest_id in (select harvest_id from {{ source('build', 'increment') }})
{% endif %}
),

named as (
    select
        study_instance_uid,
        min(event_time) filter (where event_id = '110104') as first_receipt_at,
        arg_min(record_key, (event_time, record_key)) filter (where event_id = '110104') as first_receipt_record_key,
        arg_min_null(source_establishment_id, (event_time, record_key)) filter (where event_id = '110104')
            as receipt_source_establishment_id,
        min(event_time) filter (where event_id = '110105') as deleted_at
    from events
    group by study_instance_uid
),

merged as (
    select * from named
{% if is_incremental() %}
    union all
    select study_instance_uid, first_receipt_at, first_receipt_record_key, receipt_source_establishment_id, deleted_at
    from {{ this }}
    where study_instance_uid in (select study_instance_uid from named)
{% endif %}
)

select
    study_instance_uid,
    min(first_receipt_at) as first_receipt_at,
    arg_min(first_receipt_record_key, (first_receipt_at, first_receipt_record_key))
        filter (where first_receipt_at is not null) as first_receipt_record_key,
    arg_min_null(receipt_source_establishment_id, (first_receipt_at, first_receipt_record_key))
        filter (where first_receipt_at is not null) as receipt_source_establishment_id,
    min(deleted_at) as deleted_at,
    {{ build_seq() }}
from merged
group by study_instance_uid
