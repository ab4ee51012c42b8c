-- The month's accesses through the community portal: a successful 110103 (or 110106) naming a study, whose
-- participants include one of the portal's AE titles (staged.stg_audit_events.via_portal), one per event and study,
-- per establishment owning the study and practitioner (keyed hash of the portal user's RPPS number, or null).
-- Parameters: $month (YYYY-MM), $first_day, $next_first_day (dates, Europe/Paris).
select
    $month as month,
    coalesce(o.establishment_id, 'UNATTRIBUTED') as establishment_id,
    e.practitioner_key,
    count(*) as views
from staged.stg_audit_events as e
left join staged.int_study_owners as o using (study_instance_uid)
where e.succeeded and e.via_portal
    and e.event_id in ('110103', '110106')
    and e.study_instance_uid is not null
    and e.event_date >= $first_day and e.event_date < $next_first_day
group by all
