-- Transfers from the platform to the establishments, and the tele-opinion requests among them. A row is a successful
-- transfer (110104) of a study from a platform AE title to an AE title an establishment claims; requester_id is the
-- study's owner (int_study_owners; null while the archive and the logs name none). between_establishments marks the
-- candidate requests: the owner is a known establishment other than the receiving one. A response is the first
-- Structured Report instance (Modality SR) of that study received after the transfer from an AE title of the
-- receiving establishment. Which candidates are requests (the pilot pairs of contracts/opinion_pairs.csv), the answer
-- limit and on-call hours are rules applied by analytics/opinions, not here: this model holds no setting.
-- Incremental: the transfers a build's harvests added, and again those of the studies whose owner this build
-- rewrote (int_study_owners rewrites each study given new instances, a receipt or a deletion: an owner found late, a
-- late answer): a transfer's row may change, never disappear, so delete+insert by record_hash keeps the table exact;
-- nor change day (its time is its record's), so the row a transfer replaces is looked for on its day alone. Studies
-- are found by their numbers (study_no, stg_study_numbers), not their hashes.
{{ config(materialized='incremental', incremental_strategy='delete+insert', unique_key='record_hash',
          storage_day='requested_date', replaced_storage_days='[requested_date]') }}
with transfers as (
    select
        record_key,
        {{ uid_hash('record_key') }} as record_hash,
        study_instance_uid,
        {{ uid_hash('study_instance_uid') }} as study_hash,
        study_no,
        destination_establishment_id as responder_id,
        event_time as requested_at
    from {{ ref('stg_audit_events') }}
    where event_id = '110104' and succeeded and source_is_platform and not destination_is_platform
        and destination_establishment_id is not null
{% if is_incremental() %}
        and harvest_id in (select harvest_id from {{ source('build', 'increment') }})
    union  -- a transfer harvested earlier, of a study whose owner, instances or receipts this build rewrote
    select record_key, record_hash, study_instance_uid, study_hash, study_no, responder_id, requested_at
    from {{ this }}
    where {% call found_by_key(this) %}study_no in {{ rewritten_studies('int_study_owners') }}{% endcall %}
{% endif %}
),

owners as (
    select study_hash, establishment_id from {{ ref('int_study_owners') }}
{% if is_incremental() %}
    where {% call found_by_key(ref('int_study_owners')) %}study_no in (select study_no from transfers){% endcall %}
{% endif %}
),

reports as (
    select study_hash, establishment_id, received_at
    from {{ ref('stg_dicom_instances') }}
    where modality = 'SR' and attributed_by = 'ae_title'
{% if is_incremental() %}
        and study_no in (select study_no from transfers)
{% endif %}
),

answered as (
    select
        t.record_hash,
        min(r.received_at) as responded_at
    from transfers as t
    join reports as r
        on r.study_hash = t.study_hash
        and r.establishment_id = t.responder_id
        and r.received_at > t.requested_at
    group by t.record_hash
)

select
    t.record_key,
    t.study_instance_uid,
    o.establishment_id as requester_id,
    t.responder_id,
    coalesce(o.establishment_id not in ('UNATTRIBUTED', t.responder_id), false) as between_establishments,
    t.requested_at,
    timezone('Europe/Paris', t.requested_at)::date as requested_date,
    a.responded_at,
    t.study_hash,
    t.study_no,
    t.record_hash,
    {{ build_seq() }}
from transfers as t
left join owners as o using (study_hash)
left join answered as a using (record_hash)
{{ in_storage_order() }}
