-- One row per SOP instance, however many copies were harvested (a copy with a known reception time wins over one
-- without, then the earliest reception), attributed to an establishment: by sending AE title, else by
-- InstitutionName alias, else UNATTRIBUTED (kept, never dropped).
-- Archives queried through the standards (dicomweb, dimse) may not know the size or the reception time:
-- size_bytes is the real size when any copy of the instance knows it, else the estimate (size_estimated);
-- received_at, when the archive gave none, is the audit logs' first successful receipt of the study by a platform AE
-- title (stg_audit_studies), else the first harvest that saw the instance (received_at_from: archive | audit_receipt |
-- first_harvest).
-- value_flags: values truncated to their VR's length, dates set aside (docs/harvest.md); file_key: the file it came
-- from (its path stays in raw.harvest_files: paths may name patients).
-- deleted_at: when the archive reported this instance deleted (API sources; whole-study deletions come from audit).
-- study_time_of_day: StudyTime (DICOM TM: HH, HHMM, HHMMSS or HHMMSS.FFFFFF; the old HH:MM:SS form accepted) as a
-- time, null when missing or invalid (a leap second 60 reads as 59).
-- Incremental: only the instances a new harvest added a copy of or reported deleted, and those with a copy the archive
-- gave no reception time in the studies it logged a receipt of (a receipt may date them; it cannot change a copy with
-- the archive's time, and other events, such as the night's views or deletions of old studies, cannot change an
-- instance), are rebuilt, from all their copies.
-- depends_on: {{ ref('stg_audit_events') }}
-- The stored bytes (macros/delete_insert.sql) change from the day a new instance is received; from the earlier of
-- its two reception days when an instance changes study, size or reception day; else from the earlier of its two
-- deletion days (a deletion reported late, another copy's).
-- sop_hash, study_hash: the UIDs as numbers (uid_hash), by which rows are found, as the harvest stored them (raw's
-- sop_hint, the first 32 bits of sop_hash, finds an instance's copies first; not carried here); study_no: the study's
-- number (stg_study_numbers), by which the models downstream find its rows.
-- last_copy_received_date: the reception day of the instance's latest copy, as the archive gave it (null: a copy with
-- no time from the archive, which a receipt may date). The row an instance's new row replaces was made from some of
-- the same copies, so it is stored on a day between received_date (the earliest copy's, when the archive dated every
-- one) and that one, where a build looks for it (copy_days, macros/delete_insert.sql; no day: every day). This holds
-- as long as raw keeps every copy: a correction of raw is followed by `sansfilm rebuild` (docs/warehouse.md).
{%- set copy_days = "generate_series(received_date, last_copy_received_date, interval 1 day)::date[]" %}
{{ config(materialized='incremental', incremental_strategy='delete+insert', unique_key='sop_hash',
          storage_day='received_date', replaced_storage_days=copy_days, rewritten_studies=true,
          replaced_days='received_date',
          stored_from_columns=['study_hash', 'size_bytes', 'received_date', 'deleted_date'],
          stored_from="case
              when before.replaced_rowid is null then after.received_date
              when before.study_hash is distinct from after.study_hash
                  or before.size_bytes is distinct from after.size_bytes
                  or before.received_date is distinct from after.received_date
                  then least(before.received_date, after.received_date)
              when before.deleted_date is distinct from after.deleted_date
                  then greatest(after.received_date, least(before.deleted_date, after.deleted_date))
          end") }}
{%- if is_incremental() %}{# build.increment: bookkeeping, never seen by the parse (no lineage, no asset) #}
{%- set deleted -%}
    (select source, file_key from {{ source('raw', 'dicom_deletions') }}
     where harvest_id in (select harvest_id from {{ source('build', 'increment') }}))
{%- endset %}
{%- endif %}
with
{% if is_incremental() %}
-- the instances rebuilt: every copy of one harvested again, reported deleted, or that a receipt may date (read twice
-- below: materialised once)
rebuilt as materialized (
    select sop_hash, sop_hint from {{ source('raw', 'dicom_instances') }}
    where harvest_id in (select harvest_id from {{ source('build', 'increment') }})
    union
    select sop_hash, sop_hint from {{ source('raw', 'dicom_instances') }}
    -- by the file key's hint first (raw's file_key_hint, 4 bytes a row): a join on (source, file_key) reads both
    -- strings of every row of the history; the key decides among the rows found
    where {% call found_by_key(source('raw', 'dicom_instances')) -%}
        file_key_hint in (select {{ file_key_hint('file_key') }} from {{ deleted }})
    {%- endcall %}
        and (source, file_key) in (select source, file_key from {{ deleted }})
    union
    -- a copy the archive gave no reception time, of a study whose first receipt the build's receipts may have moved
    -- (a copy with the archive's time keeps it: a receipt changes nothing of it)
    select sop_hash, sop_hint from {{ source('raw', 'dicom_instances') }}
    where received_at_estimated and study_hash in (
        select {{ uid_hash('study_instance_uid') }} from {{ ref('stg_audit_events') }}
        where harvest_id in (select harvest_id from {{ source('build', 'increment') }})
            and event_id = '110104' and succeeded and destination_is_platform
    )
),

{% endif %}
harvested as (
    select * from {{ source('raw', 'dicom_instances') }}
{% if is_incremental() %}
    -- their copies, by the hint of their UID first (raw's sop_hint, 4 bytes a row, where sop_hash takes 16: read for
    -- every instance of the history); sop_hash decides among the rows found
    where {% call found_by_key(source('raw', 'dicom_instances')) -%}
        sop_hint in (select sop_hint from rebuilt)
    {%- endcall %}
        and sop_hash in (select sop_hash from rebuilt)
{% endif %}
),

numbered as (  -- each copy with its study's number (stg_study_numbers: the build numbered every study of raw)
    select h.*, n.study_no
    from harvested as h
    left join {{ ref('stg_study_numbers') }} as n using (study_hash)
),

receipts as (  -- for the instances the archive gave no reception time
    select study_no, first_receipt_at
    from {{ ref('stg_audit_studies') }}
    where first_receipt_at is not null
        and study_no in (select study_no from numbered where received_at_estimated)
),

received as (
    select
        i.* exclude (received_at, size_estimated, received_at_estimated),
        coalesce(i.size_estimated, false) as size_estimated,
        case
            when not coalesce(i.received_at_estimated, false) then i.received_at
            else coalesce(r.first_receipt_at, i.received_at)
        end as received_at,
        case
            when not coalesce(i.received_at_estimated, false) then 'archive'
            when r.first_receipt_at is not null then 'audit_receipt'
            else 'first_harvest'
        end as received_at_from
    from numbered as i
    left join receipts as r using (study_no)
),

ranked as (
    select
        * exclude (size_bytes, size_estimated),
        arg_min(size_bytes, (size_estimated, received_at, record_key)) over copies as size_bytes,
        bool_and(size_estimated) over copies as size_estimated,
        count(*) over copies as copies_harvested,
        case when bool_and(received_at_from = 'archive') over copies
            then max(timezone('Europe/Paris', received_at)::date) over copies
        end as last_copy_received_date,
        row_number() over (
            partition by sop_instance_uid order by received_at_from <> 'archive', received_at, record_key
        ) as copy_rank
    from received
    window copies as (partition by sop_instance_uid)
),

instances as (
    select * exclude (copy_rank) from ranked where copy_rank = 1
),

deletions as (  -- those of the copies rebuilt here: the whole log grows with the archive's age
    select source, file_key, min(deleted_at) as deleted_at from {{ source('raw', 'dicom_deletions') }}
{% if is_incremental() %}
    where file_key in (select file_key from harvested)
{% endif %}
    group by all
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
    left join deletions as d on d.source = i.source and d.file_key = i.file_key
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
    size_estimated,
    received_at,
    received_at_from,
    timezone('Europe/Paris', received_at)::date as received_date,
    patient_key,
    value_flags,
    coalesce(establishment_by_ae_title, establishment_by_institution_name, 'UNATTRIBUTED') as establishment_id,
    case
        when establishment_by_ae_title is not null then 'ae_title'
        when establishment_by_institution_name is not null then 'institution_name'
        else 'none'
    end as attributed_by,
    copies_harvested,
    last_copy_received_date,
    source,
    file_key,
    deleted_at,
    timezone('Europe/Paris', deleted_at)::date as deleted_date,
    sop_hash,
    study_hash,
    study_no,
    {{ build_seq() }}
from attributed
{{ in_storage_order() }}
