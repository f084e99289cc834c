"""Dataset formats: the readers ingest knows, by name. The CLI (`fdo ingest <name>`) and
the job API (`format=<name>`) both choose from `DATASET_FORMATS`, so a new format is its
reader (a `Dataset`: `check` reads it through, `records` yields its records) and one row
here."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from repository.ingest.abcd import AbcdDocuments
from repository.ingest.dwca import Archive, Record


class Dataset(Protocol):
    """A dataset to ingest: a Darwin Core Archive or ABCD documents."""

    def check(self) -> int: ...  # read through, raising ArchiveError; the record count
    def records(self) -> Iterator[Record]: ...


@dataclass(frozen=True)
class DatasetFormat:
    name: str  # the CLI's subcommand, the job API's `format`
    description: str  # the CLI's help
    suffix: str  # of an uploaded file, spooled
    one_file: bool  # one file (an archive), or one or many documents
    # The files as a dataset, opened on `stack` (cheap: no read-through); `ArchiveError`
    # if they are not one.
    open: Callable[[contextlib.ExitStack, list[Path]], Dataset]


DATASET_FORMATS: dict[str, DatasetFormat] = {registered.name: registered for registered in (
    DatasetFormat("dwca", "ingest a Darwin Core Archive (zip or folder)", ".zip", True,
                  lambda stack, paths: stack.enter_context(Archive(paths[0]))),
    DatasetFormat("abcd", "ingest ABCD 2.06 documents (BioCASe responses)", ".xml", False,
                  lambda _, paths: AbcdDocuments(paths)),
)}


def open_dataset(stack: contextlib.ExitStack, format_name: str, paths: list[Path]) -> Dataset:
    """The files as a dataset of the named format (see `DatasetFormat.open`)."""
    return DATASET_FORMATS[format_name].open(stack, paths)
