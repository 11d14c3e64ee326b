"""Dataset readers, row validation and streaming load into the images table."""
