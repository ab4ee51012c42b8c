-- Studies the archive files hold with no successful receipt event (110104 to a platform AE title) in the audit
-- logs, and studies received according to the logs whose files were never harvested; a few example UIDs each.
with receipts as (
    select distinct study_instance_uid
    from staged.stg_audit_events
    where event_id = '110104' and succeeded and destination_is_platform and study_instance_uid is not null
),

studies as (
    select study_instance_uid from staged.int_studies
),

missing as (
    select 'no_receipt_event' as side, study_instance_uid from studies
    where study_instance_uid not in (select study_instance_uid from receipts)
    union all
    select 'not_harvested' as side, study_instance_uid from receipts
    where study_instance_uid not in (select study_instance_uid from studies)
),

total as (
    select count(*) as studies
    from (select study_instance_uid from studies union select study_instance_uid from receipts)
)

select
    sides.side,
    count(m.study_instance_uid) as studies,
    coalesce(list(m.study_instance_uid order by m.study_instance_uid)[1:5], []) as examples,
    any_value(total.studies) as total
from (values ('no_receipt_event'), ('not_harvested')) as sides(side)
left join missing as m using (side)
cross join total
group by sides.side
order by sides.side
