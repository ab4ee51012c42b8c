-- One row per study the archive's files or its audit logs name: its number (study_no), given once and kept. The
-- models find a study's rows by this number, not by its hash: numbers are given in the order builds take studies in
-- (within a build, by first reception or event, then hash), and int_studies, int_study_owners and stg_audit_studies
-- store their rows in the order of a study's first day, so a lookup skips the row groups below the smallest number
-- it looks for, reading 8 bytes a row where a hash takes 16. A hash is random: a lookup by hash reads the hash of
-- every study of the history (docs/scaling.md).
-- Incremental, and never rebuilt (full_refresh=false: a full rebuild keeps the numbers given, so the models agree
-- with the numbers whatever was rebuilt): the studies the build's harvests name (build.increment; every raw row in a
-- full refresh or a selection, which read all of raw) that have no number yet get the next ones. Within this model,
-- the hash of a study the logs name is taken once per study, not once per event. "First reception": the raw copy's
-- time, which for a copy the archive gave no time is when it was harvested.
{{ config(materialized='incremental', incremental_strategy='delete+insert', unique_key='study_hash',
          new_keys_only=true, full_refresh=false) }}
{%- set only_pending = is_incremental() and not flags.FULL_REFRESH %}
with named as (
    select study_hash, min(received_at) as seen_at
    from {{ source('raw', 'dicom_instances') }}
{% if only_pending %}{# build.increment: bookkeeping, never seen by the parse (no lineage, no asset) #}
    where harvest_id in (select harvest_id from {{ source('build', 'increment') }})
{% endif %}
    group by study_hash
    union all
    select {{ uid_hash('study_instance_uid') }}, seen_at
    from (
        select study_instance_uid, min(event_time) as seen_at
        from {{ source('raw', 'audit_events') }}
        where study_instance_uid is not null
{% if only_pending %}
            and harvest_id in (select harvest_id from {{ source('build', 'increment') }})
{% endif %}
        group by study_instance_uid
    )
),

first_seen as (
    select study_hash, min(seen_at) as seen_at from named group by study_hash
),

new_studies as (
    select * from first_seen
{% if is_incremental() %}
    -- not `not in`: DuckDB may build its join on every stored hash (a mark join, for the nulls `not in` must heed),
    -- where this builds it on the night's few thousand studies and reads the stored hashes through it
    where not exists (select 1 from {{ this }} as stored where stored.study_hash = first_seen.study_hash)
{% endif %}
)

select
    study_hash,
{% if is_incremental() %}
    (select coalesce(max(study_no), 0) from {{ this }})
{% else %}
    0
{% endif %}
        + row_number() over (order by seen_at nulls last, study_hash) as study_no,
    {{ build_seq() }}
from new_studies
order by study_no
