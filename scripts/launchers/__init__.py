"""The launchers behind scripts/servers.py, one module per server, sharing the process
and port helpers (`processes`) and the S3 server type (`s3`)."""
