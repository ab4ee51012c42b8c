-- Who owns each study for metering, and when the platform first received it. A study's establishment is that of
-- its instances (first received wins); a study known only from the audit logs belongs to the Source AE of its first
-- successful receipt (110104 to a platform AE title); otherwise UNATTRIBUTED (reported, never billed).
-- Incremental: only the studies a new harvest named (instances, receipts, deletions) are rebuilt.
{{ config(materialized='incremental', incremental_strategy='delete+insert', unique_key='study_instance_uid') }}
with touched as (
{% if is_incremental() %}
    select study_instance_uid from {{ source('raw', 'dicom_instances') }}
    where harvest_id in (select harvest_id from {{ source('build', 'increment') }})
    union
    select study_instance_uid from {{ source('raw', 'audit_events') }}
    where harvest_id in (select harvest_id from {{ source('build', 'increment') }})
{% else %}
    select null::varchar as study_instance_uid where false
{% endif %}
),

receipt_events as (
    select study_instance_uid, event_time, source_establishment_id
    from {{ ref('stg_audit_events') }}
    where event_id = '110104' and succeeded and destination_is_platform and study_instance_uid is not null
        {% if is_incremental() %}and study_instance_uid in (select study_instance_uid from touched){% endif %}
),

first_receipt_events as (
    select
        study_instance_uid,
        min(event_time) as first_receipt_event_at,
        arg_min_null(source_establishment_id, event_time) as receipt_source_establishment_id  -- NULL (unknown AE) counts
    from receipt_events
    group by study_instance_uid
),

studies as (
    select study_instance_uid, establishment_id, first_received_at from {{ ref('int_studies') }}
    {% if is_incremental() %}where study_instance_uid in (select study_instance_uid from touched){% endif %}
),

deletions as (
    select study_instance_uid, min(event_time) as deleted_at
    from {{ ref('stg_audit_events') }}
    where event_id = '110105' and succeeded and study_instance_uid is not null
        {% if is_incremental() %}and study_instance_uid in (select study_instance_uid from touched){% endif %}
    group by study_instance_uid
),

owners as (
    select
        coalesce(s.study_instance_uid, r.study_instance_uid) as study_instance_uid,
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
    {{ build_seq() }}
from owners as o
left join deletions as d using (study_instance_uid)
