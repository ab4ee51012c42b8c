-- The month's successful usage events, one per event and study, classified for billing. Failures are left to the
-- service-level statistics (which run this with $with_failures true). The participants decide direction, not the
-- action code. Parameters: $first_day, $next_first_day (dates, Europe/Paris), $with_failures (boolean).
with events as (
    select *
    from staged.stg_audit_events
    where (succeeded or $with_failures)
        and event_date >= $first_day and event_date < $next_first_day
        and event_id in ('110103', '110104', '110106')
        and study_instance_uid is not null
),

numbered as (  -- the owner is found by the UID's number (the models' uid_hash, test_code_rules), not the 64-char UID
    select *, md5_number(study_instance_uid) as study_hash from events
),

owned as (
    select e.* exclude (study_hash), coalesce(o.establishment_id, 'UNATTRIBUTED') as establishment_id
    from numbered as e
    left join (
        -- the owners of the month's studies, found by reading the number of every study of the history first, then
        -- only their rows (a join reads every study's owner too: at five years of 2 M studies a year, read cold, the
        -- statement took 0.79-0.84 s instead of 0.87-1.01 s, docs/scaling.md)
        select study_hash, establishment_id from staged.int_study_owners
        where rowid in (
            select rowid from staged.int_study_owners where study_hash in (select study_hash from numbered)
        )
    ) as o using (study_hash)
),

classified as (
    select
        *,
        case
            when event_id = '110103' then 'view'
            when event_id = '110106' then 'share'
            when event_id = '110104' and source_is_platform and not destination_is_platform
                and destination_establishment_id is not null and destination_establishment_id <> establishment_id
                then 'share'
            when event_id = '110104' and source_is_platform and not destination_is_platform then 'retrieval'
        end as usage_kind
    from owned
)

select
    event_date,
    establishment_id,
    study_instance_uid,
    event_id,
    usage_kind,
    destination_establishment_id,
    coalesce(destination_establishment_id, destination_ae, '(unknown)') as destination,
    succeeded
from classified
where usage_kind is not null
