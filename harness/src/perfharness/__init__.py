"""perfharness: an asv-based performance-regression harness.

Its parts, in the order the data flows: ``runner`` drives asv, ``probes`` watch a benchmark from inside
(host memory, heap, GPU energy, machine identity), ``gate`` decides whether a change regressed, ``site``
publishes the history. It never imports the project it measures; the project's knobs come from the
``[tool.perfharness]`` table of that project's ``pyproject.toml`` (see ``perfharness.project``).
"""

__version__ = "0.1.0"
