-- What the audit logs say of each study's reception and deletion: its first successful receipt (110104) by a platform
-- AE title, with the establishment claiming that receipt's Source AE title (null when none does: the earliest receipt
-- decides, even unknown; of receipts at the same instant, a claimed one first, then the smallest FINESS number), and
-- its first successful deletion (110105). One row per study named by either.
-- stg_dicom_instances dates the instances the archive gave no reception time with first_receipt_at; int_study_owners
-- takes the owner of a study known only from the audit logs, and its deletion, from here.
-- Incremental: minima combine, so the studies the build's new records name are merged with what this table already
-- holds for them, never recomputed from every audit record of history. The order key holds no record key: a full
-- rebuild aggregates every receipt of history, and a 64-character key in each group's state doubles its memory.
-- The rows of the studies the new records name are found by the studies' numbers (study_no, stg_study_numbers).
{{ config(materialized='incremental', incremental_strategy='delete+insert', unique_key='study_hash',
          lookup_key='study_no', storage_day='first_receipt_date', rewritten_studies=true) }}
{%- set receipt_order -%}
    (first_receipt_at, receipt_source_establishment_id is null, coalesce(receipt_source_establishment_id, ''))
{%- endset %}
with new_events as (
    select
        study_instance_uid,
        study_no,
        if(event_id = '110104', event_time, null) as first_receipt_at,
        if(event_id = '110104', source_establishment_id, null) as receipt_source_establishment_id,
        if(event_id = '110105', event_time, null) as deleted_at
    from {{ ref('stg_audit_events') }}
    where study_instance_uid is not null and succeeded
        and (event_id = '110104' and destination_is_platform or event_id = '110105')
{% if is_incremental() %}
        and harvest_id in (select harvest_id from {{ source('build', 'increment') }})
{% endif %}
),

events as (
    select * from new_events
{% if is_incremental() %}
    union all  -- what the table holds for the studies the new records name
    select study_instance_uid, study_no, first_receipt_at, receipt_source_establishment_id, deleted_at
    from {{ this }}
    where {% call found_by_key(this) %}study_no in (select study_no from new_events){% endcall %}
{% endif %}
)

select
    study_instance_uid,
    min(first_receipt_at) as first_receipt_at,
    timezone('Europe/Paris', min(first_receipt_at))::date as first_receipt_date,
    arg_min_null(receipt_source_establishment_id, {{ receipt_order }}) filter (where first_receipt_at is not null)
        as receipt_source_establishment_id,
    min(deleted_at) as deleted_at,
    {{ uid_hash('study_instance_uid') }} as study_hash,  -- once a study, after grouping: not in each group's state
    any_value(study_no) as study_no,
    {{ build_seq() }}
from events
group by study_instance_uid
{{ in_storage_order() }}
