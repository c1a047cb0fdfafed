"""Evaluation: datasets, the training loop, evaluators (``train``, ``table``) and executors (``local``)."""

from __future__ import annotations

from workers.base import EVALUATORS, FAIL, OK, Evaluator, Result, evaluator_names, get_evaluator, register_evaluator
from workers.executor import EXECUTORS, Executor, LocalExecutor, get_executor, register_executor

__all__ = ["EVALUATORS", "EXECUTORS", "FAIL", "OK", "Evaluator", "Executor", "LocalExecutor", "Result",
           "evaluator_names", "get_evaluator", "get_executor", "register_evaluator", "register_executor"]
