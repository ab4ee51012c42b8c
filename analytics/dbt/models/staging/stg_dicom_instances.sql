-- One row per SOP instance, however many copies were harvested (the earliest reception wins), attributed to an
-- establishment: by sending AE title, else by InstitutionName alias, else UNATTRIBUTED (kept, never dropped).
-- deleted_at: when the archive reported this instance deleted (API sources; whole-study deletions come from audit).
-- study_time_of_day: StudyTime (DICOM TM: HH, HHMM, HHMMSS or HHMMSS.FFFFFF; the old HH:MM:SS form accepted) as a
-- time, null when missing or invalid (a leap second 60 reads as 59).
-- Incremental: only the instances a new harvest added a copy of, or reported deleted, are rebuilt (all their copies).
{{ config(materialized='incremental', incremental_strategy='delete+insert', unique_key='sop_instance_uid') }}
with harvested as (
    select * from {{ source('raw', 'dicom_instances') }}
{% if is_incremental() %}
    where sop_instance_uid in (
        select sop_instance_uid from {{ source('raw', 'dicom_instances') }}
        where harvest_id in (select harvest_id from {{ source('build', 'increment') }})
        union
        select i.sop_instance_uid
        from {{ source('raw', 'dicom_instances') }} as i
        join {{ source('raw', 'dicom_deletions') }} as d on d.source = i.source and d.path = i.path
        where d.harvest_id in (select harvest_id from {{ source('build', 'increment') }})
    )
{% endif %}
),

ranked as (
    select
        *,
        count(*) over (partition by sop_instance_uid) as copies_harvested,
        row_number() over (partition by sop_instance_uid order by received_at, record_key) as copy_rank
    from harvested
),

instances as (
    select * exclude (copy_rank) from ranked where copy_rank = 1
),

deletions as (
    select source, path, min(deleted_at) as deleted_at from {{ source('raw', 'dicom_deletions') }} group by all
),

study_clock as (
    select
        *,
        regexp_extract(replace(trim(study_time), ':', ''), '^(\d{2})(\d{2})?(\d{2})?(\.\d{1,6})?$',
                       ['hh', 'mm', 'ss', 'fraction']) as tm
    from instances
),

study_parts as (
    select
        * exclude (tm),
        nullif(tm.hh, '')::integer as tm_hours,
        nullif(tm.mm, '')::integer as tm_minutes,
        nullif(tm.ss, '')::integer as tm_seconds,
        nullif(tm.fraction, '')::double as tm_fraction
    from study_clock
),

study_times as (
    select
        * exclude (tm_hours, tm_minutes, tm_seconds, tm_fraction),
        case
            when tm_hours < 24 and coalesce(tm_minutes, 0) < 60 and coalesce(tm_seconds, 0) <= 60
                and (tm_fraction is null or tm_seconds is not null)
                then make_time(tm_hours, coalesce(tm_minutes, 0),
                               least(coalesce(tm_seconds, 0), 59) + coalesce(tm_fraction, 0))
        end as study_time_of_day
    from study_parts
),

attributed as (
    select
        i.*,
        by_ae.establishment_id as establishment_by_ae_title,
        by_alias.establishment_id as establishment_by_institution_name,
        d.deleted_at
    from study_times as i
    left join deletions as d on d.source = i.source and d.path = i.path
    left join {{ source('ref', 'establishment_ae_titles') }} as by_ae on by_ae.ae_title_key = i.source_ae_key
    left join {{ source('ref', 'establishment_aliases') }} as by_alias on by_alias.institution_key = i.institution_key
)

select
    sop_instance_uid,
    series_instance_uid,
    study_instance_uid,
    sop_class_uid,
    modality,
    study_date,
    study_time,
    study_time_of_day,
    institution_name,
    station_name,
    manufacturer,
    source_ae_title,
    specific_character_set,
    transfer_syntax_uid,
    size_bytes,
    received_at,
    timezone('Europe/Paris', received_at)::date as received_date,
    patient_key,
    coalesce(establishment_by_ae_title, establishment_by_institution_name, 'UNATTRIBUTED') as establishment_id,
    case
        when establishment_by_ae_title is not null then 'ae_title'
        when establishment_by_institution_name is not null then 'institution_name'
        else 'none'
    end as attributed_by,
    copies_harvested,
    source,
    path,
    deleted_at,
    timezone('Europe/Paris', deleted_at)::date as deleted_date
from attributed
