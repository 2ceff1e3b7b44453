"""Backbones and heads shared by the families."""
