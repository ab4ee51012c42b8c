-- Who owns each study for metering, and when the platform first received it. A study's establishment is that of
-- its instances (first received wins); a study known only from the audit logs belongs to the Source AE of its first
-- successful receipt (110104 to a platform AE title); otherwise UNATTRIBUTED (reported, never billed).
-- Incremental: only the studies this build rewrote in int_studies or stg_audit_studies (new instances, receipts,
-- deletions) are rebuilt; one left with no instance and no receipt loses its row (vanishing_keys). The stored bytes
-- of a study whose owner changed move between establishments from its first receipt (stored_from,
-- macros/delete_insert.sql); a new study's bytes are its instances' (stg_dicom_instances). The rows of the studies
-- rebuilt are found by their numbers (study_no, stg_study_numbers), their keys first (found_by_key): both lookups
-- project a 64-character UID.
{%- set rebuilt = rewritten_studies(['int_studies', 'stg_audit_studies']) %}
{{ config(materialized='incremental', incremental_strategy='delete+insert', unique_key='study_hash',
          lookup_key='study_no', storage_day='first_receipt_date', replaced_days='first_receipt_date',
          rewritten_studies=true, vanishing_keys=rebuilt,
          stored_from_columns=['establishment_id', 'first_receipt_date'],
          stored_from='case when before.replaced_rowid is not null
                                and before.establishment_id is distinct from after.establishment_id
                           then least(before.first_receipt_date, after.first_receipt_date) end') }}
with touched as (
{% if is_incremental() %}
    select study_no from {{ rebuilt }}
{% else %}
    select null::bigint as study_no where false
{% endif %}
),

audited as (  -- first receipt by the platform and first deletion, from the audit logs
    select * from {{ ref('stg_audit_studies') }}
{% if is_incremental() %}
    where {% call found_by_key(ref('stg_audit_studies')) %}study_no in (select study_no from touched){% endcall %}
{% endif %}
),

first_receipt_events as (
    select
        study_instance_uid,
        study_hash,
        study_no,
        first_receipt_at as first_receipt_event_at,
        receipt_source_establishment_id  -- NULL (an AE title no establishment claims) counts
    from audited
    where first_receipt_at is not null
),

studies as (
    select study_instance_uid, study_hash, study_no, establishment_id, first_received_at from {{ ref('int_studies') }}
{% if is_incremental() %}
    where {% call found_by_key(ref('int_studies')) %}study_no in (select study_no from touched){% endcall %}
{% endif %}
),

deletions as (
    select study_instance_uid, deleted_at from audited where deleted_at is not null
),

owners as (
    select
        coalesce(s.study_instance_uid, r.study_instance_uid) as study_instance_uid,
        coalesce(s.study_hash, r.study_hash) as study_hash,
        coalesce(s.study_no, r.study_no) as study_no,
        coalesce(s.establishment_id, r.receipt_source_establishment_id, 'UNATTRIBUTED') as establishment_id,
        case
            when s.study_instance_uid is not null then 'instances'
            when r.receipt_source_establishment_id is not null then 'receipt_event'
            else 'none'
        end as owner_from,
        s.study_instance_uid is null as audit_only,
        least(s.first_received_at, r.first_receipt_event_at) as first_receipt_at
    from studies as s
    full outer join first_receipt_events as r using (study_instance_uid)
)

select
    o.study_instance_uid,
    o.establishment_id,
    o.owner_from,
    o.audit_only,
    o.first_receipt_at,
    timezone('Europe/Paris', o.first_receipt_at)::date as first_receipt_date,
    d.deleted_at,
    timezone('Europe/Paris', d.deleted_at)::date as deleted_date,
    o.study_hash,
    o.study_no,
    {{ build_seq() }}
from owners as o
left join deletions as d using (study_instance_uid)
{{ in_storage_order() }}
