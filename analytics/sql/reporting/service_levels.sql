-- The contract's service levels per month, establishment and term (marts.mart_service_levels), for the
-- establishments in scope: the measured figure against the target, and whether the level was met. No money here:
-- the credits a breach gives are on the next month's invoice (finance pages).
select
    s.month,
    s.establishment_id,
    d.name,
    s.offer,
    s.term,
    s.unit,
    s.measured::double as measured,
    s.target::double as target,
    s.breached,
    s.sample_size,
    s.details
from marts.mart_service_levels as s
join scoped as d using (establishment_id)
where s.month >= strftime($first_day::date, '%Y-%m') and s.month < strftime($end_day::date, '%Y-%m')
order by s.month, s.establishment_id, s.term
