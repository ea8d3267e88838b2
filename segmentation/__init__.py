"""Pure analysis of survey answers: correlation table, heatmaps, report, lookalike scores.

No Flask, no database sessions; DataFrames in, tidy DataFrames (or files) out.
"""

from data.answer_file import read_answers
from segmentation.correlation import BANDS, band, correlate, correlation_matrix
from segmentation.heatmap import plot_heatmap, plot_sports_heatmap
from segmentation.lookalike import Evaluation, LookalikeModel, evaluate, explain, fit, score
from segmentation.report import AnalysisResult, analyze_file, analyze_frame, write_report

__all__ = [
    "BANDS",
    "AnalysisResult",
    "Evaluation",
    "LookalikeModel",
    "analyze_file",
    "analyze_frame",
    "band",
    "correlate",
    "correlation_matrix",
    "evaluate",
    "explain",
    "fit",
    "plot_heatmap",
    "plot_sports_heatmap",
    "read_answers",
    "score",
    "write_report",
]
