-- The establishments a viewer may see after the shared filters (whose drafts the finance views compute).
select establishment_id from scoped
