"""Reports: the ``report.json`` schema, contact sheets, turntables and the batch summary."""

from .contact_sheet import contact_sheet, save_png
from .html import batch_summary_html
from .schema import SCHEMA_VERSION, build_report, read_report, write_report
from .turntable import write_turntable

__all__ = ["contact_sheet", "save_png", "batch_summary_html", "SCHEMA_VERSION", "build_report",
           "read_report", "write_report", "write_turntable"]
