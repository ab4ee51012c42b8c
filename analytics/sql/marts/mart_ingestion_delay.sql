-- Studies per establishment, Paris month of first receipt and whole hours of ingestion delay (from the study date,
-- midnight Paris, to the first receipt; clipped to 0..720, 720 meaning "30 days or more"): the operator's delay
-- percentiles at 1 h resolution without scanning every study. Grain: (establishment_id, month, delay_hours).
with delays as (
    select
        establishment_id,
        date_trunc('month', first_received_date)::date as month,
        least(greatest(floor(date_diff('second', timezone('Europe/Paris', study_date::timestamp), first_received_at)
                             / 3600), 0), 720)::integer as delay_hours
    from staged.int_studies
    where study_date is not null and first_received_date is not null
)

select establishment_id, month, delay_hours, count(*) as studies
from delays
group by all
