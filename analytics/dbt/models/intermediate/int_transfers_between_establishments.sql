-- Candidate tele-opinion requests and their responses. A candidate is a successful transfer (110104) of a study
-- from a platform AE title to an AE title of another establishment than the study's owner; its response is the
-- first Structured Report instance (Modality SR) of that study received after the transfer from an AE title of the
-- receiving establishment. Which candidates are requests (the pilot pairs of contracts/opinion_pairs.csv), the
-- answer limit and on-call hours are rules applied by analytics/opinions, not here: this model holds no setting.
with transfers as (
    select
        e.record_key,
        e.study_instance_uid,
        o.establishment_id as requester_id,
        e.destination_establishment_id as responder_id,
        e.event_time as requested_at
    from {{ ref('stg_audit_events') }} as e
    join {{ ref('int_study_owners') }} as o using (study_instance_uid)
    where e.event_id = '110104' and e.succeeded and e.source_is_platform and not e.destination_is_platform
        and e.destination_establishment_id is not null
        and e.destination_establishment_id <> o.establishment_id
        and o.establishment_id <> 'UNATTRIBUTED'
),

reports as (
    select study_instance_uid, establishment_id, received_at
    from {{ ref('stg_dicom_instances') }}
    where modality = 'SR' and attributed_by = 'ae_title'
),

answered as (
    select
        t.record_key,
        min(r.received_at) as responded_at
    from transfers as t
    join reports as r
        on r.study_instance_uid = t.study_instance_uid
        and r.establishment_id = t.responder_id
        and r.received_at > t.requested_at
    group by t.record_key
)

select
    t.record_key,
    t.study_instance_uid,
    t.requester_id,
    t.responder_id,
    t.requested_at,
    timezone('Europe/Paris', t.requested_at)::date as requested_date,
    a.responded_at
from transfers as t
left join answered as a using (record_key)
