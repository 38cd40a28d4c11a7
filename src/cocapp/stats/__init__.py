"""Pure statistics: DataFrames in, DataFrames out; no module here reads or writes a file.

Scoring (person-mean replacement), measurement (reliability, missing data, Little's MCAR),
distributions (descriptives, normality, reference values), site comparisons (ANOVA, Tukey-Kramer,
Games-Howell, correlations), ANCOVA with adjusted means, the studentized range distribution, and
the sensitivity summary. Files are the business of :mod:`cocapp.stages`.
"""
