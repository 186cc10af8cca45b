"""Everything read back out of the database: the roll-up workbook, the success-case
library, history and hand-over, win rates, exports and pandas frames."""
