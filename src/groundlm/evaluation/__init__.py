"""The evaluation harness behind ``groundlm eval``: score prediction files against ground truth."""

from groundlm.evaluation.evaluate import TASKS, Options, Report, evaluate
from groundlm.evaluation.table import format_table

__all__ = ["TASKS", "Options", "Report", "evaluate", "format_table"]
