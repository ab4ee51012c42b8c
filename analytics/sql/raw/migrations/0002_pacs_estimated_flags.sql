-- Archives queried through the standards (kind = "dicomweb" / "dimse") may not give an instance's stored size or its
-- reception time: the record then carries an estimate, flagged here. Existing rows (files, Orthanc) knew both.
alter table raw.dicom_instances add column if not exists size_estimated boolean default false;
alter table raw.dicom_instances add column if not exists received_at_estimated boolean default false;
update raw.dicom_instances set size_estimated = false where size_estimated is null;
update raw.dicom_instances set received_at_estimated = false where received_at_estimated is null;
