-- The data horizon: the last Paris day with archive activity (stages and "silent site" warnings are relative to it).
select coalesce(max(received_date), current_date) as as_of from marts.mart_archive_daily
