"""Report files of a finished inspection: Excel in the paper form's layout, PDF, and a chart."""
