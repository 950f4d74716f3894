"""The record stream: record types, one reader and one writer shared by every command."""

from rustnet.stream.reader import NewerFormatError, RecordReader, open_inputs
from rustnet.stream.records import FORMAT_VERSION, Record, record_type
from rustnet.stream.writer import PipeClosed, RecordWriter

__all__ = [
    "FORMAT_VERSION",
    "NewerFormatError",
    "PipeClosed",
    "Record",
    "RecordReader",
    "RecordWriter",
    "open_inputs",
    "record_type",
]
