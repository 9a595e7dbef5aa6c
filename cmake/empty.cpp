// Placeholder translation unit for a folder library whose sources are not written yet.
