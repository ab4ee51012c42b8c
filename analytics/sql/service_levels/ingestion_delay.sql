-- The 95th-percentile ingestion delay per establishment, over the studies first received in the month (Paris): from
-- the study time (StudyDate + StudyTime, Paris) to the first receipt, in microseconds, negative delays (a scanner
-- clock ahead of the archive) counted as 0. Nearest rank: the smallest delay that at least 95 % of the studies do not
-- exceed (the ceil(0.95 n)-th in increasing order). Studies without a valid StudyTime are left out (their delay from
-- midnight would over-state it by up to a day) and counted. Parameters: $first_day, $next_first_day.
with studies as (
    select
        establishment_id,
        study_time_known,
        greatest(epoch_us(first_received_at) - epoch_us(study_at), 0) as delay_us
    from staged.int_studies
    where first_received_date >= $first_day and first_received_date < $next_first_day and study_at is not null
),

ranked as (
    select
        establishment_id,
        delay_us,
        row_number() over (partition by establishment_id order by delay_us) as position,
        count(*) over (partition by establishment_id) as measured
    from studies
    where study_time_known
)

select
    s.establishment_id,
    count(*) filter (where s.study_time_known) as studies_measured,
    count(*) filter (where not s.study_time_known) as studies_without_time,
    (select r.delay_us from ranked as r
     where r.establishment_id = s.establishment_id and r.position = ceil(0.95 * r.measured)) as p95_us
from studies as s
group by s.establishment_id
order by s.establishment_id
