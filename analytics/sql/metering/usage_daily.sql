-- Usage per establishment and Paris day for one month; storage needs every day, activity only days with some.
-- Parameters: $month, $first_day, $next_first_day, $previous_month, $from_snapshot. Reads the temporary table
-- metered_events. Storage opens with the previous month's end-of-month snapshot when there is one ($from_snapshot),
-- else with the sum of every earlier change (all of history).
with deleted_studies as (  -- the studies deleted in the month (audit 110105), when opening with a snapshot
    select study_no, first_receipt_date
    from staged.int_study_owners
    where $from_snapshot and deleted_date >= $first_day and deleted_date < $next_first_day
),

changed as (
    -- Opening with a snapshot, only the instances received or deleted in the month change anything: the others are
    -- left out before the join with their studies' owners (a join of every instance of history, the month's largest
    -- cost). Each part is its own read, where one filter joining them with `or` read every instance: received in the
    -- month (only the month's row groups: stg_dicom_instances is stored in reception-day order); deleted alone in
    -- the month (reported by an API source: a scan of the deletion day, skipping row groups with none); of a study
    -- deleted in the month (none without a snapshot: deleted_studies is empty then), read from the first receipt of
    -- the oldest such study on (an instance is never received before its study's first receipt, int_study_owners),
    -- not from the history's first day. By rowid: a union of the values would merge two identical instances.
    select rowid from staged.stg_dicom_instances
    where $from_snapshot and received_date >= $first_day and received_date < $next_first_day
    union
    select rowid from staged.stg_dicom_instances
    where $from_snapshot and deleted_date >= $first_day and deleted_date < $next_first_day
    union
    select rowid from staged.stg_dicom_instances
    where received_date >= (select min(first_receipt_date) from deleted_studies)
        and study_no in (select study_no from deleted_studies)
),

instances as (  -- deleted with its study (audit 110105) or alone (reported by an API source), whichever comes first
    select i.received_date, i.size_bytes, o.establishment_id, least(o.deleted_date, i.deleted_date) as deleted_date
    from (
        select study_no, received_date, size_bytes, deleted_date from staged.stg_dicom_instances
        where not $from_snapshot
        union all
        select study_no, received_date, size_bytes, deleted_date from staged.stg_dicom_instances
        where rowid in (select rowid from changed)
    ) as i
    join staged.int_study_owners as o using (study_no)  -- the studies' numbers: a join on 8 bytes a row
),

-- each instance adds its size on the day it is received and removes it on the day its study is deleted
storage_deltas as (
    select establishment_id, received_date as day, size_bytes::hugeint as delta from instances
    union all
    select establishment_id, greatest(received_date, deleted_date) as day, -size_bytes::hugeint as delta
    from instances
    where deleted_date is not null
),

opening as (
    select establishment_id, stored_bytes
    from marts.fct_storage_month_end
    where $from_snapshot and month = $previous_month
    union all
    select establishment_id, sum(delta) as stored_bytes
    from storage_deltas
    where not $from_snapshot and day < $first_day
    group by establishment_id
),

month_deltas as (
    select establishment_id, day, sum(delta) as delta
    from storage_deltas
    where day >= $first_day and day < $next_first_day
    group by establishment_id, day
),

days as (
    select unnest(range($first_day::date, $next_first_day::date, interval 1 day))::date as day
),

storing as (
    select establishment_id from opening where stored_bytes <> 0
    union
    select establishment_id from month_deltas
),

storage as (
    select
        s.establishment_id,
        d.day,
        coalesce(o.stored_bytes, 0)
            + coalesce(sum(m.delta) over (partition by s.establishment_id order by d.day rows unbounded preceding), 0)
            as stored_bytes
    from storing as s
    cross join days as d
    left join opening as o on o.establishment_id = s.establishment_id
    left join month_deltas as m on m.establishment_id = s.establishment_id and m.day = d.day
),

studies as (
    select establishment_id, first_receipt_date as day, count(*) as studies_archived
    from staged.int_study_owners
    where first_receipt_date >= $first_day and first_receipt_date < $next_first_day
    group by all
),

received as (
    select establishment_id, received_date as day, count(*) as instances_archived, sum(size_bytes) as bytes_archived
    from instances
    where received_date >= $first_day and received_date < $next_first_day
    group by all
),

activity as (
    select
        establishment_id,
        event_date as day,
        count(*) filter (where usage_kind = 'retrieval') as retrievals,
        count(*) filter (where usage_kind = 'share') as shares,
        count(*) filter (where usage_kind = 'view') as views
    from metered_events
    group by all
),

keys as (
    select establishment_id, day from storage where stored_bytes <> 0
    union select establishment_id, day from studies
    union select establishment_id, day from received
    union select establishment_id, day from activity
)

select
    $month as month,
    k.day as usage_date,
    k.establishment_id,
    coalesce(st.studies_archived, 0) as studies_archived,
    coalesce(r.instances_archived, 0) as instances_archived,
    coalesce(r.bytes_archived, 0) as bytes_archived,
    coalesce(sg.stored_bytes, 0) as stored_bytes,
    coalesce(a.retrievals, 0) as retrievals,
    coalesce(a.shares, 0) as shares,
    coalesce(a.views, 0) as views
from keys as k
left join storage as sg using (establishment_id, day)
left join studies as st using (establishment_id, day)
left join received as r using (establishment_id, day)
left join activity as a using (establishment_id, day)
