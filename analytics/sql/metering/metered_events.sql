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

owned as (  -- the owner is found by the study's number (study_no, stg_study_numbers), not the 64-char UID
    select e.*, coalesce(o.establishment_id, 'UNATTRIBUTED') as establishment_id
    from events as e
    left join (
        -- the owners of the month's studies, found by reading the number of the studies first, then only their rows
        -- (a join reads every study's owner too: docs/scaling.md); numbers are given in the order studies came in and
        -- int_study_owners is stored by first receipt, so DuckDB skips the row groups below the month's smallest
        select study_no, establishment_id from staged.int_study_owners
        where rowid in (
            select rowid from staged.int_study_owners where study_no in (select study_no from events)
        )
    ) as o using (study_no)
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
