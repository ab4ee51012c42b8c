-- Availability per establishment over its window of the month (the month's Paris days it was live).
-- Unavailable: (1) outages of the applications its offer needs: an Application Stop (110100 / 110121) of an
-- application (AuditSourceID) until its next Application Start (110120), or the end of the window when it has not
-- restarted; overlapping outages count once; (2) outside those, every minute in which the establishment's operations
-- (110103, 110104, 110106, 110107, 110112, attributed to the study's owner, else to the establishment at either end)
-- all failed: at least one failure and no success.
-- Parameters: $first_day, $next_first_day (dates, Europe/Paris). Reads the temporary table sla_applications
-- (offer, application). Durations are in microseconds, exact.
with windows as (
    select
        establishment_id,
        offer,
        greatest(timezone('Europe/Paris', $first_day::timestamp),
                 timezone('Europe/Paris', actual_go_live::timestamp)) as window_start,
        least(timezone('Europe/Paris', $next_first_day::timestamp),
              coalesce(timezone('Europe/Paris', (end_date + 1)::timestamp), 'infinity'::timestamptz)) as window_end
    from ref.establishments
    where actual_go_live is not null
),

live as (
    select * from windows where window_end > window_start
),

activity as (
    select audit_source_id as application, event_time, event_type_code
    from staged.stg_audit_events
    where event_id = '110100' and event_type_code in ('110120', '110121') and audit_source_id is not null
),

sequenced as (
    select
        *,
        lag(event_type_code) over (partition by application order by event_time, event_type_code) as previous_code
    from activity
),

-- a second stop before any start adds nothing: the outage began at the first
outages as (
    select
        s.application,
        s.event_time as stopped_at,
        (select min(a.event_time) from activity as a
         where a.application = s.application and a.event_type_code = '110120' and a.event_time >= s.event_time)
            as restarted_at
    from sequenced as s
    where s.event_type_code = '110121' and s.previous_code is distinct from '110121'
),

clipped as (
    select
        w.establishment_id,
        greatest(o.stopped_at, w.window_start) as down_from,
        least(coalesce(o.restarted_at, w.window_end), w.window_end) as down_to
    from live as w
    join sla_applications as a on a.offer = w.offer
    join outages as o on o.application = a.application
    where o.stopped_at < w.window_end and coalesce(o.restarted_at, w.window_end) > w.window_start
),

ordered as (
    select
        *,
        max(down_to) over (partition by establishment_id order by down_from, down_to
                           rows between unbounded preceding and 1 preceding) as previous_end
    from clipped
    where down_to > down_from
),

islands as (
    select
        *,
        sum(case when previous_end >= down_from then 0 else 1 end)
            over (partition by establishment_id order by down_from, down_to rows unbounded preceding) as island
    from ordered
),

merged as (
    select establishment_id, min(down_from) as down_from, max(down_to) as down_to
    from islands
    group by establishment_id, island
),

owners as (
    select study_instance_uid, nullif(establishment_id, 'UNATTRIBUTED') as owner_id from staged.int_study_owners
),

operations as (
    select
        coalesce(o.owner_id, e.source_establishment_id, e.destination_establishment_id) as establishment_id,
        date_trunc('minute', e.event_time) as minute,
        e.succeeded
    from staged.stg_audit_events as e
    left join owners as o using (study_instance_uid)
    where e.event_id in ('110103', '110104', '110106', '110107', '110112')
),

failed_minutes as (
    select o.establishment_id, o.minute
    from operations as o
    join live as w using (establishment_id)
    where o.minute >= w.window_start and o.minute < w.window_end
    group by all
    having count(*) filter (where not o.succeeded) > 0 and count(*) filter (where o.succeeded) = 0
),

-- the part of each failed minute not already inside an outage (the join keeps only overlapping outages; a minute with
-- none gets null bounds, which must count as no overlap: DuckDB's least/greatest skip nulls)
failed as (
    select
        f.establishment_id,
        60000000 - sum(case when m.down_from is null then 0
                            else epoch_us(least(f.minute + interval 1 minute, m.down_to))
                                 - epoch_us(greatest(f.minute, m.down_from)) end) as failed_us
    from failed_minutes as f
    left join merged as m
        on m.establishment_id = f.establishment_id
        and m.down_from < f.minute + interval 1 minute and m.down_to > f.minute
    group by f.establishment_id, f.minute
)

select
    w.establishment_id,
    w.offer,
    epoch_us(w.window_end) - epoch_us(w.window_start) as window_us,
    coalesce((select sum(epoch_us(m.down_to) - epoch_us(m.down_from)) from merged as m
              where m.establishment_id = w.establishment_id), 0)::bigint as outage_us,
    coalesce((select count(*) from merged as m where m.establishment_id = w.establishment_id), 0)::bigint as outages,
    coalesce((select sum(f.failed_us) from failed as f where f.establishment_id = w.establishment_id), 0)::bigint
        as failed_us,
    coalesce((select count(*) from failed as f where f.establishment_id = w.establishment_id and f.failed_us > 0),
             0)::bigint as failed_minutes
from live as w
order by w.establishment_id
