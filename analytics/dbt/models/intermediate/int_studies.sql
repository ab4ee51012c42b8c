-- One row per study seen in the archive files: its establishment (that of its first received instance, SR answers
-- last; a study whose instances point at several establishments is flagged), modalities, volume and first reception.
-- study_at: when the study was made, StudyDate + StudyTime read as Europe/Paris wall-clock time (the earliest over the
-- study's instances that have both); a missing or invalid StudyTime falls back to midnight of the StudyDate, with
-- study_time_known false. DST: a time in the hour skipped in March reads as winter time (02:30 -> 03:30 summer time),
-- a time in the hour repeated in October as its second, winter-time occurrence.
-- Incremental: only the studies of the instances this build rewrote in stg_dicom_instances (a new copy, a deletion,
-- a date from a receipt, a move to another study) are rebuilt, from all their instances; a study left with none (its
-- instances filed under another by their new copies) loses its row (vanishing_keys). Their instances are found
-- without reading the history's study_hash: those written since the last build that succeeded are the table's tail
-- (build_seq); an earlier one belongs to a study this table holds, and lies on a day from that study's first
-- reception to its last (they were its instances when that build succeeded), which DuckDB finds by the day's row
-- groups. Nearly every study a night rebuilds is new: no day to read at all. Studies are found by their numbers
-- (study_no, stg_study_numbers), not their hashes: the rows of the night's studies lie in the last row groups.
{%- set rebuilt = rewritten_studies('stg_dicom_instances') %}
{{ config(materialized='incremental', incremental_strategy='delete+insert', unique_key='study_hash',
          lookup_key='study_no', storage_day='first_received_date', replaced_days='first_received_date',
          rewritten_studies=true, vanishing_keys=rebuilt) }}
with
{% if is_incremental() %}
stored as (  -- the studies rebuilt that this table holds, and the days their earlier instances lie on
    select study_no, first_received_date, timezone('Europe/Paris', last_received_at)::date as last_received_date
    from {{ this }}
    where {% call found_by_key(this) %}study_no in {{ rebuilt }}{% endcall %}
),

{% endif %}
instances as (
    select * from {{ ref('stg_dicom_instances') }}
{% if is_incremental() %}
    -- every instance of the studies with an instance this build rewrote: written since the last build that succeeded
    -- (by their keys first: after a failed rebuild, the tail may be the whole history)
    where {% call found_by_key(ref('stg_dicom_instances')) -%}
        build_seq > {{ last_finished_build() }} and study_no in {{ rebuilt }}
    {%- endcall %}
    union all  -- or before it
    select * from {{ ref('stg_dicom_instances') }}
    where build_seq <= {{ last_finished_build() }}
        and received_date in (
            select unnest(generate_series(first_received_date, last_received_date, interval 1 day)::date[])
            from stored
        )
        and study_no in (select study_no from stored)
{% endif %}
),

first_instance as (
    select
        study_instance_uid,
        -- a Structured Report (a tele-opinion's answer, sent by another establishment) never decides the owner
        -- while the study has another instance, whatever the reception order (a PACS may report one time for all)
        arg_min(establishment_id, (coalesce(modality = 'SR', false), received_at, sop_instance_uid)) as establishment_id,
        arg_min(attributed_by, (coalesce(modality = 'SR', false), received_at, sop_instance_uid)) as attributed_by
    from instances
    group by study_instance_uid
),

volumes as (
    select
        study_instance_uid,
        string_agg(distinct modality, '/' order by modality) as modalities,
        min(study_date) as study_date,
        min(study_date + study_time_of_day) as study_local_time,
        count(*) as instances,
        count(distinct series_instance_uid) as series,
        sum(size_bytes) as bytes,
        min(received_at) as first_received_at,
        max(received_at) as last_received_at,
        -- a Structured Report sent into the study by another establishment (a tele-opinion's answer) is no conflict
        count(distinct establishment_id) filter (where modality is distinct from 'SR') as establishments_claiming,
        any_value(patient_key) as patient_key,
        any_value(study_hash) as study_hash,
        any_value(study_no) as study_no
    from instances
    group by study_instance_uid
)

select
    v.study_instance_uid,
    f.establishment_id,
    f.attributed_by,
    v.establishments_claiming > 1 as attribution_conflict,
    v.modalities,
    v.study_date,
    timezone('Europe/Paris', coalesce(v.study_local_time, v.study_date::timestamp)) as study_at,
    v.study_local_time is not null as study_time_known,
    v.series,
    v.instances,
    v.bytes,
    v.first_received_at,
    timezone('Europe/Paris', v.first_received_at)::date as first_received_date,
    v.last_received_at,
    v.patient_key,
    v.study_hash,
    v.study_no,
    {{ build_seq() }}
from volumes as v
join first_instance as f using (study_instance_uid)
{{ in_storage_order() }}
