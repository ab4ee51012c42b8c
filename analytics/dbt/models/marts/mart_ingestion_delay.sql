-- Studies per establishment, Paris month of first receipt and whole hours of ingestion delay (from the study time,
-- StudyDate + StudyTime in Paris, to the first receipt; clipped to 0..720, 720 meaning "30 days or more"): the
-- operator's delay percentiles at 1 h resolution without scanning every study. A study whose StudyTime is missing or
-- invalid is measured from midnight of its StudyDate and also counted in studies_time_unknown.
-- Grain: (establishment_id, month, delay_hours).
-- Incremental by month: a build recounts the months on which it wrote or replaced a study (int_studies), and only
-- those.
{%- set months = rewritten_months({'int_studies': 'first_received_date'}) %}
{{ config(materialized='incremental', incremental_strategy='delete+insert', replace_where='month in ' ~ months) }}
with delays as (
    select
        establishment_id,
        date_trunc('month', first_received_date)::date as month,
        least(greatest(floor(date_diff('second', study_at, first_received_at) / 3600), 0), 720)::integer
            as delay_hours,
        study_time_known
    from {{ ref('int_studies') }}
    where study_at is not null and first_received_date is not null
    {% if is_incremental() %}
        and {{ in_months('first_received_date', months) }}
    {% endif %}
)

select
    establishment_id,
    month,
    delay_hours,
    count(*) as studies,
    count(*) filter (where not study_time_known) as studies_time_unknown,
    {{ build_seq() }}
from delays
group by all
