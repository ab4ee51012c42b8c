-- Ingestion delay per month: hours from the study date (midnight, Paris) to the first receipt of the study.
-- Percentiles over the studies in scope; the study's time of day is not in int_studies, so each figure is an upper
-- bound by at most 24 h.
with delays as (
    select
        date_trunc('month', st.first_received_date)::date as month,
        date_diff('second', timezone('Europe/Paris', st.study_date::timestamp), st.first_received_at) / 3600.0 as hours
    from staged.int_studies as st
    join scoped using (establishment_id)
    where st.study_date is not null
      and st.first_received_date >= $first_day::date and st.first_received_date < $end_day::date
)

select
    month,
    count(*) as studies,
    quantile_cont(hours, 0.5) as p50_hours,
    quantile_cont(hours, 0.9) as p90_hours,
    quantile_cont(hours, 0.99) as p99_hours
from delays
group by month
order by month
