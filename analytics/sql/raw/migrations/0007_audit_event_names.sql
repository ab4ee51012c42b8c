-- raw.audit_events.event_name held the text a sender put in the EventID (originalText, else displayName): free text a
-- sender could fill with anything, a patient's name included, which the harvest stored and the build carried into
-- stg_audit_events.event_type (for the codes outside DICOM CID 400) and the lake. It now holds the standard name of
-- a CID 400 code (analytics/audit_codes.py) and null for any other code, for the records already stored too. The
-- models' SQL changed with it, so the next build rebuilds the staged and published tables from raw, and the next
-- lake export rewrites the months whose rows changed.
update raw.audit_events set event_name = case event_id
        when '110100' then 'Application Activity'
        when '110101' then 'Audit Log Used'
        when '110102' then 'Begin Transferring DICOM Instances'
        when '110103' then 'DICOM Instances Accessed'
        when '110104' then 'DICOM Instances Transferred'
        when '110105' then 'DICOM Study Deleted'
        when '110106' then 'Export'
        when '110107' then 'Import'
        when '110108' then 'Network Entry'
        when '110109' then 'Order Record'
        when '110110' then 'Patient Record'
        when '110111' then 'Procedure Record'
        when '110112' then 'Query'
        when '110113' then 'Security Alert'
        when '110114' then 'User Authentication'
    end;
