"""Generated buf.validate messages (protovalidate). Do not edit: run make generate."""
