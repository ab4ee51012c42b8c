-- AE titles of {table}.{column} that neither an establishment of the registry nor the platform claims, with their
-- row counts (AE titles are equipment names, not patient data). {table} and {column} are a contract's validated,
-- quoted identifiers; AE titles are compared as the registry matches them (trimmed, upper-cased, NULs removed).
with titles as (
    select upper(trim(replace({column}, chr(0), ''))) as ae_title_key, count(*) as n
    from {table}
    where nullif(trim(replace({column}, chr(0), '')), '') is not null
    group by 1
),

known as (
    select ae_title_key from ref.establishment_ae_titles
    union
    select ae_title_key from ref.platform_ae_titles
)

select ae_title_key, n
from titles
where ae_title_key not in (select ae_title_key from known)
order by n desc, ae_title_key
