"""Dataset enrolment: Darwin Core Archives and ABCD into digital specimens and media.

`datasets` names the formats (a reader each: `dwca`, `abcd`); `mapping` and `quality`
map and check a record; `plans` plans a run's records and batches, `batch` holds them,
`run` writes them through the service's one write path (repository/writes.py) and
`report` says what happened. Ingests uploaded over HTTP are background jobs
(repository/jobs.py), run by `fdo worker`.
"""
