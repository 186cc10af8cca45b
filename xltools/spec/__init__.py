"""What a plan is: the spec (sections, fields, tables, choices and their meaning), settings,
periods, the contract the code relies on, the plan model, the issue catalogue and the one
definition of every derived figure (``derive``).  Imports nothing else of xltools but the
base modules (errors, clock, cells)."""
