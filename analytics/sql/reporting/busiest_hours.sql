-- Studies first received per weekday (ISO, 1 = Monday) and hour of the day, Paris time.
select
    isodow(timezone('Europe/Paris', st.first_received_at))::int as weekday,
    hour(timezone('Europe/Paris', st.first_received_at))::int as hour,
    count(*) as studies
from staged.int_studies as st
join scoped using (establishment_id)
where st.first_received_date >= $first_day::date and st.first_received_date < $end_day::date
group by all
order by weekday, hour
