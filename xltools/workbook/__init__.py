"""Excel files: cell rules and text safety, layout, the generator, print setup and charts,
package safety checks, the reader (python-calamine) and the worker processes that isolate it.
Builds on ``xltools.spec`` only."""
