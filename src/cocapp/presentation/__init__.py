"""Presentation: publication tables, figures, the reproduced-vs-published audit and the HTML report.

Functions here render content (text, bytes) from DataFrames and the config; the stage layer
(:mod:`cocapp.stages`) reads their inputs and writes what they return. :mod:`.outputs` lists the
files from the config alone and stays light (the Snakefile imports it while parsing).
"""
