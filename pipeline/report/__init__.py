"""From summary.csv to what a reader sees: statistics, tables, trends, verdicts, plots, cost, advice."""
