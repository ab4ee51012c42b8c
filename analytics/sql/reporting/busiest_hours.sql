-- Studies first received per weekday (ISO, 1 = Monday) and hour of the day, Paris time (marts.mart_reception_hours).
select r.weekday, r.hour, sum(r.studies)::bigint as studies
from marts.mart_reception_hours as r
join scoped using (establishment_id)
where r.month >= $first_day::date and r.month < $end_day::date
group by all
order by weekday, hour
