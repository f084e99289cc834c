"""Dataset enrolment: Darwin Core Archives and ABCD into digital specimens and media.

In progress (issue 5): `dwca` reads archives; mapping, ingest and re-checks follow.
"""
