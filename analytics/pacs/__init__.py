"""Archives read through the DICOM standards: DICOMweb (QIDO-RS, WADO-RS metadata) and DICOM query (C-FIND)."""
